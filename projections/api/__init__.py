"""The read side's REST API (FastAPI): calls, stats, admin CRUD, health and metrics."""
