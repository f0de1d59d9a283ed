"""The read side's REST API (FastAPI), built by ``app.create_app``.

Routes: ``calls`` (CDRs, one call, its timeline and recording), ``stats`` (KPIs), ``admin`` (CRUD of
config records on the ``sentiric.config`` topic), ``tokens`` (API tokens), ``ops`` (health, metrics),
``docs`` (OpenAPI). Shared: ``auth`` (bearer tokens, session cookies, scopes), ``services`` (what the
process runs: pool, producer, config view, background tasks), ``writes`` (an admin write waits for
the log's acknowledgement), ``errors`` (every error as JSON), ``models`` (response models).
"""
