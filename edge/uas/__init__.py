"""The edge's SIP user-agent server core, sans-IO: datagrams and ``now`` in, effects out.

``core.UasCore`` parses, routes and guards; the work is done by collaborators over shared parts,
built once by the core: ``setup`` (INVITE to ACK, CANCEL), ``in_dialog`` (requests inside a dialog,
responses to ours), ``teardown`` (BYE, rejections, the port given back) and ``registration``
(REGISTER), sharing ``call_table`` (the calls), ``transactions`` (the transaction layers, the 2xx
retransmission), ``call_facts`` (one typed method per fact) and one timer heap keyed by ``timers``.
``call`` is one call's state table and the media effects it asks for. The policy, each pure:
``access`` (trunks, dialplan access), ``ratelimit`` (per-source gate before parsing), ``admission``
(overload), ``dialplan`` and ``directory`` (what a number resolves to), ``sdp_policy`` (offer/answer),
``routing`` (where an in-dialog request goes), ``addresses``, ``methods``, ``info`` (DTMF in INFO),
``fallback`` (the edge's own prompt when the AI side stays silent); ``config`` what the core is
configured with.  The asyncio driver is :mod:`edge.transport`.
"""
