"""Webhook signing, matching, payloads and the retry schedule (no network)."""

import hashlib
import hmac
import json
from dataclasses import replace

from projections.webhooks import RetryPolicy, headers, matches, payload, sign, verify
from schemas import models as m
from schemas.samples import sample

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
