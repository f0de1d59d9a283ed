"""The read side: call detail records in PostgreSQL, KPIs, webhooks, the REST API and the dashboard.

``cdr`` is the pure CDR fold; ``projector`` applies it to the call and metrics topics and ``store``
writes the rows with the consumed offsets in one transaction (exactly-once), on the pool of ``pool``
with the migrations of ``migrate``. Reads: ``queries`` (calls, one call), ``kpi`` (telecom KPIs),
``timeline`` (one call's records from the log). ``webhooks`` delivers matching facts as signed JSON
(``webhook_targets``: where they may go). ``rebuild`` re-projects from offset 0 and checksums the
tables; ``synthetic`` is a deterministic day of calls for tests, benchmarks and demos; ``logtopics``
the topic names in one value. ``api`` is the REST API, ``web`` the browser UI, ``cli`` the read
side's plug-in (``sentiric api``, ``sentiric projections …``).
"""
