"""The per-call dialog: state, the pure reducer `decide`, and the decisions it returns."""
