"""Audio codecs (G.711) and sample-rate conversion for int16 PCM."""
