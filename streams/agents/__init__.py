"""Faust agents: thin adapters that decode, call pure code, and emit."""
