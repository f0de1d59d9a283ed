"""The rendered broker configuration: a single node on 127.0.0.1 that a client can use at once."""

from __future__ import annotations

from pathlib import Path

from sentiric.broker.properties import parse_properties, render_log4j_properties, render_server_properties


def render(**overrides: object) -> dict[str, str]:
    arguments: dict[str, object] = {
        "port": 29092,
        "controller_port": 29093,
        "log_dir": Path("/var/lib/sentiric/kafka/logs"),
        "partitions": 6,
    }
    arguments.update(overrides)
    return parse_properties(render_server_properties(**arguments))  # type: ignore[arg-type]


def test_combined_kraft_node_with_a_one_voter_quorum() -> None:
    props = render()
    assert props["process.roles"] == "broker,controller"
    assert props["node.id"] == "1"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:29093"
    assert props["controller.listener.names"] == "CONTROLLER"
    assert props["inter.broker.listener.name"] == "PLAINTEXT"
    assert props["listener.security.protocol.map"] == "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"


def test_listeners_are_bound_to_loopback_only() -> None:
    props = render(port=40001, controller_port=40002)
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:40001,CONTROLLER://127.0.0.1:40002"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:40001"


def test_internal_topics_fit_one_broker() -> None:
    props = render()
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["transaction.state.log.replication.factor"] == "1"
    assert props["transaction.state.log.min.isr"] == "1"
    assert props["default.replication.factor"] == "1"
    assert props["group.initial.rebalance.delay.ms"] == "0"


def test_data_directory_and_partition_count_follow_the_settings() -> None:
    props = render(log_dir=Path("/tmp/x y/logs"), partitions=12)
    assert props["log.dirs"] == "/tmp/x y/logs"
    assert props["num.partitions"] == "12"
    assert props["auto.create.topics.enable"] == "true"


def test_log4j_writes_to_stdout_and_quiets_the_request_logger() -> None:
    props = parse_properties(render_log4j_properties())
    assert props["log4j.rootLogger"] == "INFO, stdout"
    assert props["log4j.appender.stdout"] == "org.apache.log4j.ConsoleAppender"
    assert props["log4j.logger.kafka.request.logger"] == "WARN"


def test_parse_properties_skips_comments_and_blank_lines() -> None:
    assert parse_properties("# c\n! c\n\n a = b \nno-separator\nk=v=w\n") == {"a": "b", "k": "v=w"}
