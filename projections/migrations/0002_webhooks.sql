-- Outbound webhooks: per-subscription progress on the call log and on the parked-delivery topic.

CREATE TABLE webhook_offsets (
    subscription_id   text NOT NULL,
    topic             text NOT NULL,
    partition         integer NOT NULL,
    next_offset       bigint NOT NULL,
    PRIMARY KEY (subscription_id, topic, partition)
);

CREATE TABLE webhook_deliveries (
    subscription_id   text PRIMARY KEY,
    delivered         bigint NOT NULL DEFAULT 0,
    parked            bigint NOT NULL DEFAULT 0,
    replayed          bigint NOT NULL DEFAULT 0,
    last_error        text
);
