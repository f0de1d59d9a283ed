"""Real infrastructure for the integration tests: a local Apache Kafka (KRaft) and an embedded PostgreSQL.

Each runs once per session on free ports under a temporary home; the Kafka jars come from the machine's
download cache, so they are fetched once per machine. Nothing here skips: without Java, Maven or the
PostgreSQL wheel the fixtures raise, and every test that needs them errors loudly.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sentiric.broker.local_kafka import LocalKafka
from sentiric.database import EmbeddedPostgres
from sentiric.net import free_port
from sentiric.settings import Settings

HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.integration)


def integration_settings(home: Path, cache: Path) -> Settings:
    """Settings for one private broker and database: free ports, a private home, the shared jar cache."""
    return Settings(
        home=home,
        cache_home=cache,
        kafka_port=free_port(),
        kafka_controller_port=free_port(),
        postgres_port=free_port(),
    )


@pytest.fixture(scope="session")
def make_settings(machine_cache_dir: Path) -> Iterator[Callable[[str], Settings]]:
    """Private homes under a fresh /tmp directory, not pytest's tmp_path: as root, PostgreSQL runs as
    another user who must traverse the path, and pytest resets its own base directory to mode 0700
    whenever another pytest session starts."""
    root = Path(tempfile.mkdtemp(prefix="sentiric-it-"))
    root.chmod(0o711)

    def make(name: str) -> Settings:
        return integration_settings(Path(tempfile.mkdtemp(prefix=f"{name}-", dir=root)), machine_cache_dir)

    yield make
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def local_kafka(make_settings: Callable[[str], Settings]) -> Iterator[LocalKafka]:
    broker = LocalKafka(make_settings("kafka-home"))
    broker.start(detach=False)
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def kafka(local_kafka: LocalKafka) -> str:
    """The bootstrap address of the session's local Kafka."""
    return local_kafka.bootstrap


@pytest.fixture(scope="module")
def fresh_kafka(make_settings: Callable[[str], Settings]) -> Iterator[str]:
    """A private, empty broker for one test module: for tests whose processes read the call topic from
    offset 0 (a streams worker with offset reset `earliest`) and must not replay every other test's
    calls. About two seconds to start."""
    broker = LocalKafka(make_settings("fresh-kafka-home"))
    broker.start(detach=False)
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def embedded_postgres(make_settings: Callable[[str], Settings]) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(make_settings("postgres-home"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_dsn(embedded_postgres: EmbeddedPostgres) -> str:
    """The DSN of the session's embedded PostgreSQL, database `sentiric`."""
    return embedded_postgres.start()  # already running: returns the DSN
