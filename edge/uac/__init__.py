"""The edge as a UAC: outgoing calls (RFC 3261 §8.1, §13.2, §17.1.1), sans-IO.

``invite_client`` is the INVITE client transaction, ``requests`` builds the INVITE and the
requests that follow it (ACK, CANCEL), ``credentials`` answers digest challenges, ``disposition``
names how an attempt ended, and ``call`` is the UAC core of one outgoing call that ties them up.
"""
