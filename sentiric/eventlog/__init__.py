"""The log client: topics, the idempotent producer, consumers and the dead-letter topic."""
