"""Read models: call detail records in PostgreSQL, KPIs, the REST API and the replay tools."""
