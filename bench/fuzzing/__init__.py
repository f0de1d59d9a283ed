"""The edge fuzz campaign's parts (``bench/fuzz_edge.py`` drives them).

Pure and seeded: ``sip`` (corpus and SIP mutations), ``media`` (RTP/RTCP packets), ``ws`` (WebSocket
frames). With I/O: ``edge`` (the edge under test in its own process, its log, its RSS) and ``peers``
(the fuzzer's SIP sockets: senders, the OPTIONS probe, a real call for the media phase).
"""
