"""The rendered broker configuration: a single node on 127.0.0.1 that a client can use at once, and the
nodes of the local three-node cluster, plain and SASL_SSL."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentiric.broker.properties import (
    NodeSpec,
    NodeTls,
    parse_properties,
    render_log4j_properties,
    render_node_properties,
    render_server_properties,
    replication_for,
)


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


def cluster_node(node_id: int, *, secure: bool = False) -> dict[str, str]:
    voters = ((1, 30093), (2, 30103), (3, 30113))
    tls = NodeTls(Path("/d/tls/node-2.pem"), Path("/d/tls/ca.pem")) if secure else None
    spec = NodeSpec(
        node_id, 30092 + 10 * (node_id - 1), voters[node_id - 1][1], Path("/d/node/logs"), 6, voters,
        internal_port=30094 + 10 * (node_id - 1) if secure else None, tls=tls,
    )  # fmt: skip
    return parse_properties(render_node_properties(spec))


def test_a_three_node_cluster_has_a_three_voter_quorum_and_replicates_three_ways() -> None:
    props = cluster_node(2)
    assert props["node.id"] == "2"
    assert props["process.roles"] == "broker,controller"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:30093,2@127.0.0.1:30103,3@127.0.0.1:30113"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:30102,CONTROLLER://127.0.0.1:30103"
    assert (props["default.replication.factor"], props["min.insync.replicas"]) == ("3", "2")
    assert props["offsets.topic.replication.factor"] == "3"
    assert (props["transaction.state.log.replication.factor"], props["transaction.state.log.min.isr"]) == (
        "3",
        "2",
    )
    # quicker failure detection than Kafka's 9 s: the pause an acks=all producer sees when a node dies
    assert (props["broker.session.timeout.ms"], props["broker.heartbeat.interval.ms"]) == ("6000", "1500")


def test_replication_fits_the_node_count() -> None:
    assert [replication_for(n) for n in (1, 2, 3, 5)] == [(1, 1), (2, 1), (3, 2), (3, 2)]
    assert "broker.session.timeout.ms" not in render()  # one node: Kafka's defaults


def test_a_secure_node_takes_scram_over_tls_and_replicates_over_mutual_tls() -> None:
    props = cluster_node(2, secure=True)
    assert props["listeners"] == (
        "CLIENT://127.0.0.1:30102,INTERNAL://127.0.0.1:30104,CONTROLLER://127.0.0.1:30103"
    )
    assert props["advertised.listeners"] == "CLIENT://127.0.0.1:30102,INTERNAL://127.0.0.1:30104"
    assert props["listener.security.protocol.map"] == "CLIENT:SASL_SSL,INTERNAL:SSL,CONTROLLER:SSL"
    assert props["inter.broker.listener.name"] == "INTERNAL"
    assert props["listener.name.client.sasl.enabled.mechanisms"] == "SCRAM-SHA-512,SCRAM-SHA-256"
    for mechanism in ("scram-sha-512", "scram-sha-256"):
        assert props[f"listener.name.client.{mechanism}.sasl.jaas.config"].startswith(
            "org.apache.kafka.common.security.scram.ScramLoginModule required"
        )
    assert (props["ssl.keystore.type"], props["ssl.keystore.location"]) == ("PEM", "/d/tls/node-2.pem")
    assert (props["ssl.truststore.type"], props["ssl.truststore.location"]) == ("PEM", "/d/tls/ca.pem")
    assert props["listener.name.internal.ssl.client.auth"] == "required"
    assert props["listener.name.controller.ssl.client.auth"] == "required"
    assert "listener.name.client.ssl.client.auth" not in props  # clients authenticate with SCRAM
    assert props["ssl.endpoint.identification.algorithm"] == "https"
    assert not any("PLAINTEXT" in v for v in props.values())


def test_a_secure_node_needs_a_replication_port() -> None:
    spec = NodeSpec(1, 1, 2, Path("/l"), 1, ((1, 2),), tls=NodeTls(Path("/k.pem"), Path("/ca.pem")))
    with pytest.raises(ValueError, match="internal"):
        render_node_properties(spec)
