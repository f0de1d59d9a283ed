"""RTP and RTCP wire types (RFC 3550), RFC 4733 telephone events, the jitter buffer and sender state.

``packet`` (RTP), ``rtcp`` (RTCP and compounds), ``dtmf`` (RFC 4733), ``jitter_buffer``, ``sender`` (the
outgoing stream's state and its one header pack), ``source_policy`` (where a call's media may go and
whose media it takes: the anti-reflection rule).
"""
