"""RTP and RTCP wire types (RFC 3550), RFC 4733 telephone events, the jitter buffer and sender state."""
