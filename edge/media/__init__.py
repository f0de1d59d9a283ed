"""Media layer of the edge process: a sans-IO core and a thin asyncio shell around it.

Sans-IO (pure code over bytes, numpy arrays and a ``now`` passed in; none of these imports asyncio
or socket itself, nor reads a clock): the G.711, G.722 and Opus codecs and resampling (``codecs``),
RTP/RTCP/RFC 4733 wire types, a jitter buffer, an RTP sender state and the source policy (``rtp``),
RFC 3550 receiver statistics, the ITU-T G.107 E-model and the RTCP/quality report (``quality``), VAD
endpointing (``vad``), the 20 ms frame (``frame``), the RTP port pool (``ports``; its default free-pair
probe, injectable, binds sockets), SDES-SRTP (``srtp``), the prompt player (``playback``; its prompt
cache reads WAV files), call recording (``recording``; it spools to a temporary file past 8 MB) and
one call's media session (``session``), which takes datagrams and ticks and returns effects.

The IO shell, exactly these modules: ``endpoint`` (one call's UDP sockets, carries out the session's
effects), ``clock`` (the shared 20 ms timer on the event loop), ``engine`` (sessions, commands, prompt
loading), ``recording_upload`` (encode and store off the loop), ``storage`` (file and S3 writes),
``recording_root`` (the allowed output locations) and ``taps`` (live audio to and from asyncio readers:
the session side never waits, the reader side is awaited).
"""
