"""`sentiric broker`: exit codes and the one line users read, without starting a JVM."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sentiric.broker import cli
from sentiric.settings import get_settings


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., int]]:
    monkeypatch.setenv("SENTIRIC_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SENTIRIC_KAFKA_PORT", "1")
    get_settings.cache_clear()

    def invoke(*argv: str) -> int:
        parser = argparse.ArgumentParser(prog="sentiric")
        cli.add_parser(parser.add_subparsers(dest="command", required=True))
        args = parser.parse_args(["broker", *argv])
        return int(args.func(args))

    yield invoke
    get_settings.cache_clear()


def test_status_of_a_broker_never_started_exits_3(
    run: Callable[..., int], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("status") == cli.EXIT_NOT_RUNNING
    assert capsys.readouterr().out == "local Kafka is not running (would listen on 127.0.0.1:1)\n"


def test_stop_of_a_stopped_broker_is_a_no_op(
    run: Callable[..., int], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("stop") == 0
    assert capsys.readouterr().out == "local Kafka was not running\n"


def test_configured_bootstrap_is_reported_not_started(
    run: Callable[..., int], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SENTIRIC_KAFKA_BOOTSTRAP", "kafka.example:9092")
    get_settings.cache_clear()
    for action in ("start", "status", "stop"):
        assert run(action) == 0
    lines = capsys.readouterr().out.splitlines()
    assert (
        lines
        == ["using the configured Kafka at kafka.example:9092 (SENTIRIC_KAFKA_BOOTSTRAP); nothing local"] * 3
    )


def test_missing_java_prints_one_line_and_exits_1(
    run: Callable[..., int],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    assert run("start") == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "sentiric broker: Java 17+ is required to run the local Kafka: install openjdk-17-jre-headless, "
        "or set SENTIRIC_KAFKA_BOOTSTRAP to use an existing cluster\n"
    )


def test_nodes_and_secure_choose_the_cluster_and_its_replication(run: Callable[..., int]) -> None:
    parser = argparse.ArgumentParser(prog="sentiric")
    cli.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["broker", "start", "--nodes", "3", "--secure"])
    settings = cli._settings(args)
    assert (settings.kafka_nodes, settings.topic_replication) == (3, 3)
    assert settings.kafka_security_protocol == "SASL_SSL"
    with pytest.raises(SystemExit):
        parser.parse_args(["broker", "start", "--nodes", "2"])  # an even quorum is refused
