"""The worker's adapters: Faust agents that decode, call pure code, and emit (``dialog``, ``speech``),
and the knowledge base this worker reads from the config topic (``config``).
"""
