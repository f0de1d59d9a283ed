"""schemathesis against the OpenAPI spec, in-process over ASGI (real PostgreSQL and broker behind it):
no generated request, valid or not, gets a 5xx, and every error is the JSON error shape."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections import Counter
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.python import asgi as schemathesis_asgi

from projections.api.app import create_app
from projections.api.services import ApiConfig
from projections.logtopics import LogTopics
from projections.synthetic import day_of_calls, interleaved
from sentiric.eventlog.admin import ensure_topics
from sentiric.eventlog.producer import EventProducer

from .conftest import PARTITIONS, create_database, drop_database
from .test_api import AUTH, TOKEN


async def _prepare(kafka: str, admin_dsn: str, topics: LogTopics) -> str:
    await ensure_topics(topics.specs(PARTITIONS, 86_400_000), bootstrap_servers=kafka)
    async with EventProducer(bootstrap_servers=kafka) as producer:
        for fact in interleaved(day_of_calls(22, seed=1)):
            producer.publish(fact, topic=topics.calls)
    return await create_database(admin_dsn)


@pytest.fixture
def api_schema(kafka: str, postgres_dsn: str) -> Iterator[object]:
    topics = LogTopics.prefixed(f"f{uuid.uuid4().hex[:8]}")
    dsn = asyncio.run(_prepare(kafka, postgres_dsn, topics))
    # No webhook dispatcher: fuzzed subscriptions name arbitrary hosts, and tests only talk to 127.0.0.1.
    config = ApiConfig(
        dsn=dsn, client={"bootstrap_servers": kafka}, admin_token=TOKEN, topics=topics, run_webhooks=False
    )
    app = create_app(config)
    try:
        yield schemathesis.openapi.from_asgi("/openapi.json", app, headers=AUTH)  # the document needs it too
    finally:
        schemathesis_asgi.shutdown_lifespans()
        asyncio.run(drop_database(postgres_dsn, dsn))


STATUSES: Counter = Counter()


def test_no_server_errors_and_json_errors(api_schema) -> None:
    checked = []
    operations = [r.ok() for r in api_schema.get_all_operations()]
    for operation, mode in itertools.product(operations, GenerationMode):

        @given(case=operation.as_strategy(mode))
        @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
        def fuzz(case) -> None:
            response = case.call(headers=AUTH)
            STATUSES[(case.method, response.status_code)] += 1
            assert response.status_code < 500, (case.method, case.formatted_path, response.text)
            if response.status_code >= 400:
                body = response.json()
                assert isinstance(body.get("error"), str) and "detail" in body, response.text

        try:
            fuzz()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE  # e.g. no parameters at all: nothing to make invalid
            continue
        checked.append(f"{mode.value} {operation.method.upper()} {operation.path}")
    assert len(checked) >= 20, checked
    seen = {status for _, status in STATUSES}
    assert {200, 401, 404, 422} <= seen, STATUSES  # valid and invalid requests both reached the app
