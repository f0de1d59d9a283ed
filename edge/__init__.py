"""The edge process: SIP user-agent server, RTP/SRTP media, the WebSocket gateway and gRPC MediaService.

Protocol engines are sans-IO (bytes and ``now`` in, effects out: :mod:`edge.effects`); thin asyncio
adapters carry their effects out. Subpackages: ``sip`` (RFC 3261 messages, transactions, dialogs,
digest), ``uas`` (the SIP user-agent server core and its call policy), ``media`` (one call's RTP/SRTP
media session and its shell), ``ws`` (the browser voice gateway), ``prompts`` (audio the edge plays by
itself). Modules: ``app`` (the process, composed), ``transport`` (UDP/TCP/TLS adapters around the SIP
core), ``facts`` (every fact the edge records passes here), ``command_consumer`` (the node's command
topic), ``config_table`` (dialplans, SIP users, tokens), ``workers`` (which dialog workers can take a
call), ``media_port`` (the seam between SIP and media: ``MediaOptions``, the ``MediaPort`` and
``MediaHandle`` protocols, ``NullMediaPort``), ``sdp``, ``redact``, ``grpc_service`` and ``grpc_auth``,
``metrics`` and ``metrics_http``, ``cli`` (``sentiric edge``, the edge's plug-in).
"""
