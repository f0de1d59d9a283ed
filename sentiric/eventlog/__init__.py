"""The log client: topics and their one set-up (`topics`, `admin.prepare_topics`), the idempotent
producer, consumers and the dead-letter topic, the one follow loop (`follower.TopicFollower`) and the
one materialized config topic every process reads (`config_view.ConfigView`)."""
