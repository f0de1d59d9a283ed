"""The browser voice gateway: ``/ws`` on the edge, one WebSocket connection = one call on the log.

Sans-IO: ``protocol`` (typed messages, frame validation and limits; the wire format is
``PROTOCOL.md``), ``auth`` (who may open ``/ws``, before a call exists), ``session`` (``WebCall``:
frames, facts, commands and ``now`` in, effects out) and ``playout`` (agent audio paced in real time).
asyncio: ``server`` (the ``websockets`` server and one pump per connection) and ``gateway`` (the live
web calls of this edge, the commands and facts for them from the log).
"""
