"""Sans-IO media layer of the edge process.

Pure code over bytes and numpy arrays: G.711 codecs and resampling (``codecs``), RTP/RTCP/RFC 4733
wire types, a jitter buffer and an RTP sender state (``rtp``), RFC 3550 receiver statistics and the
ITU-T G.107 E-model (``quality``), VAD endpointing (``vad``), the RTP port pool (``ports``), SDES-SRTP
(``srtp``) and the prompt player (``playback``). Nothing here imports asyncio or sockets; callers pass
``now`` where time matters.
"""
