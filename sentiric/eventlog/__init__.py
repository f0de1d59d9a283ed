"""The log client: topics and their one set-up (``topics``, ``admin.prepare_topics``), how every process
connects (``connection``: TLS, SASL), the idempotent producer (``producer``), consumers and the
dead-letter topic (``consumer``), the one follow loop (``follower.TopicFollower``), the one
materialized config topic every process reads (``config_view.ConfigView``), and a cancel aiokafka
swallowed raised again (``cancel``).
"""
