"""Webhook signing, matching, payloads, the retry schedule, and a fact set aside (no network)."""

import hashlib
import hmac
import json
from dataclasses import replace

import httpx
from aiokafka import ConsumerRecord, TopicPartition

from projections.logtopics import LogTopics
from projections.webhooks import RetryPolicy, SubscriptionWorker, headers, matches, payload, sign, verify
from schemas import models as m
from schemas.codec import default_codec, encode
from schemas.samples import sample as any_sample
from sentiric.eventlog.topics import DEADLETTER, DLQ_CONSUMER, DLQ_OFFSET


def sample(model, *args):
    """A sample record of the "default" tenant (the samples name a tenant per type)."""
    record = any_sample(model, *args)
    return replace(record, tenant="default") if hasattr(record, "tenant") else record


SUB = replace(sample(m.WebhookSubscription), event_types=("CallEnded",), secret="s3cret", enabled=True)


def test_signature_is_hmac_sha256_of_the_body():
    body = b'{"a":1}'
    assert sign(body, "k") == "sha256=" + hmac.new(b"k", body, hashlib.sha256).hexdigest()
    assert verify(body, "k", sign(body, "k"))
    assert not verify(body + b" ", "k", sign(body, "k"))
    assert not verify(body, "other", sign(body, "k"))


def test_matching_by_type_wildcard_and_enabled():
    ended, answered = sample(m.CallEnded), sample(m.CallAnswered)
    assert matches(SUB, ended) and not matches(SUB, answered)
    assert matches(replace(SUB, event_types=("*",)), answered)
    assert not matches(replace(SUB, enabled=False), ended)
    assert not matches(replace(SUB, event_types=("*",)), sample(m.Dialplan))


def test_a_subscription_gets_only_its_own_tenants_facts():
    ended = sample(m.CallEnded)
    assert not matches(replace(SUB, tenant="acme"), ended)
    assert matches(replace(SUB, tenant="acme"), replace(ended, tenant="acme"))


def test_payload_has_no_audio_and_the_log_position():
    fact = sample(m.SpeechSynthesized)
    body = payload(fact, "sentiric.calls", 2, 41)
    obj = json.loads(body)
    assert obj["type"] == "SpeechSynthesized" and obj["pcm_bytes"] == len(fact.pcm) and "pcm" not in obj
    assert obj["log"] == {"topic": "sentiric.calls", "partition": 2, "offset": 41}
    h = headers(SUB, fact, body)
    assert verify(body, "s3cret", h["X-Sentiric-Signature"])
    assert h["X-Sentiric-Event-Id"] == str(fact.event_id)


def test_backoff_doubles_up_to_the_cap():
    policy = RetryPolicy(attempts=6, base_s=0.5, max_s=3.0)
    assert [policy.delay(i) for i in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]


class Unserializable:
    """A decoded fact whose payload cannot be built (stands for any record that breaks the worker)."""

    call_id = "c1"

    def to_record(self) -> dict:
        raise ValueError("cannot serialize")


class SomeCodec:
    def decode(self, value: bytes):
        return Unserializable() if value == b"boom" else default_codec().decode(value)


class Producer:
    def __init__(self) -> None:
        self.sent: list[tuple] = []

    def publish_raw(self, topic, key, value, headers=()) -> None:
        self.sent.append((topic, key, value, dict(headers)))

    async def flush(self) -> None:
        return None


class Progress:
    def __init__(self) -> None:
        self.commits: list[tuple] = []

    async def commit(self, topic, partition, next_offset, outcome=None) -> None:
        self.commits.append((partition, next_offset, outcome))


async def test_a_fact_the_worker_cannot_prepare_is_set_aside_and_the_next_is_delivered():
    producer, progress, posted = Producer(), Progress(), []
    sub = replace(SUB, event_types=("*",), url="http://hooks.example/in")
    worker = SubscriptionWorker(
        sub,
        pool=None,
        client={},
        topics=LogTopics(),
        producer=producer,
        policy=RetryPolicy(),
        codec=SomeCodec(),
    )
    worker._progress = progress
    good = sample(m.CallEnded)

    def record(offset: int, value: bytes) -> ConsumerRecord:
        return ConsumerRecord("sentiric.calls", 0, offset, 0, 0, b"c1", value, None, len(value), 2, ())

    def endpoint(request: httpx.Request) -> httpx.Response:
        posted.append(json.loads(request.content))
        return httpx.Response(204)

    async with httpx.AsyncClient(transport=httpx.MockTransport(endpoint)) as http:
        await worker._handle(
            http, TopicPartition("sentiric.calls", 0), [record(7, b"boom"), record(8, encode(good))]
        )
    assert [p["event_id"] for p in posted] == [str(good.event_id)]
    ((topic, key, value, dlq_headers),) = producer.sent
    assert (topic, key, value, dlq_headers[DLQ_OFFSET], dlq_headers[DLQ_CONSUMER]) == (
        DEADLETTER,
        b"c1",
        b"boom",
        b"7",
        f"webhook:{sub.entity_id}".encode(),
    )
    assert progress.commits == [(0, 9, "delivered")]
