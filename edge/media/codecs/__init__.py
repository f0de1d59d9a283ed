"""Audio codecs as RTP payload formats, and sample-rate conversion for int16 PCM.

``registry`` (the codec interface, the table of codecs by SDP ``rtpmap``, transcoding to the engines'
PCM), ``g711`` (PCMU/PCMA by lookup table), ``g722`` and ``opus`` (through PyAV's FFmpeg),
``resample`` (libsoxr); ``errors`` the layer's one error type, ``CodecError``.
"""
