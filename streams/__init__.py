"""The streams worker (faust-streaming): the dialog state machine, the speech workers and the analytics.

``app`` is the Faust application (``sentiric worker``); its agents (``agents``) are thin: decode, call
pure code, emit. ``dialog`` is the per-call state machine (the pure reducer ``machine.decide``),
``engines`` the STT, dialog and TTS engines behind ``typing.Protocol``s, ``analytics`` the windowed
KPIs. Around them: ``heartbeat`` (the worker's liveness and lag, for the edges' admission),
``offsets`` (where a fresh consumer group starts), ``skip`` (no work for calls that have ended),
``changelog_fetch`` (stop fetching table changelogs once recovered), ``replay_dialog`` (re-run the
reducer over a recorded call) and ``cli`` (the worker's plug-in: ``sentiric worker``,
``sentiric replay dialog``).
"""
