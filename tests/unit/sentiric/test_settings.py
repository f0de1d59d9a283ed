import json

import pytest
from pydantic import ValidationError

from sentiric.cli import main
from sentiric.settings import Settings


def test_defaults_work_on_one_machine(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = Settings()
    assert s.embedded_kafka and s.bootstrap_servers == "127.0.0.1:19092"
    assert s.sip_port == 5060 and s.api_port == 8080 and s.ws_port == 8081
    assert s.commands_topic == "sentiric.commands.edge-1"


def test_layering_toml_then_dotenv_then_environment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sentiric.toml").write_text('sip_port = 5070\napi_port = 9000\nnode_id = "from-toml"\n')
    assert Settings().sip_port == 5070
    (tmp_path / ".env").write_text("SENTIRIC_SIP_PORT=5080\nSENTIRIC_NODE_ID=from-dotenv\n")
    s = Settings()
    assert (s.sip_port, s.api_port, s.node_id) == (5080, 9000, "from-dotenv")  # .env beats toml
    monkeypatch.setenv("SENTIRIC_SIP_PORT", "5090")
    s = Settings()
    assert (s.sip_port, s.api_port, s.node_id) == (5090, 9000, "from-dotenv")  # env beats both


def test_config_command_masks_secrets(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SENTIRIC_ADMIN_TOKEN", "s3cret-token")
    monkeypatch.setenv("SENTIRIC_DATABASE_URL", "postgresql://u:hunter2@db/sentiric")
    monkeypatch.setenv("SENTIRIC_KAFKA_BOOTSTRAP", "redpanda:9092")
    from sentiric.settings import get_settings

    get_settings.cache_clear()
    try:
        assert main(["config"]) == 0
    finally:
        get_settings.cache_clear()
    out = capsys.readouterr().out
    assert "s3cret-token" not in out and "hunter2" not in out
    shown = json.loads(out)
    assert shown["admin_token"] == "**********" and shown["database_url"] == "**********"
    assert shown["kafka_bootstrap"] == "redpanda:9092"


def test_a_local_cluster_lists_every_node_and_replicates_three_ways(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = Settings(kafka_nodes=3)
    assert s.bootstrap_servers == "127.0.0.1:19092,127.0.0.1:19102,127.0.0.1:19112"
    assert s.topic_replication == 3
    assert Settings().topic_replication == 1
    monkeypatch.setenv("SENTIRIC_TOPIC_REPLICATION", "2")
    assert Settings(kafka_nodes=3).topic_replication == 2  # set explicitly: kept
    monkeypatch.setenv("SENTIRIC_KAFKA_SASL_MECHANISM", "SCRAM-SHA-1")
    with pytest.raises(ValidationError):
        Settings()
