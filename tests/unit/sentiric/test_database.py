"""The embedded PostgreSQL refuses a port another process holds, before it runs anything."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from sentiric.database import DatabaseError, EmbeddedPostgres
from sentiric.settings import Settings


def test_a_port_another_process_listens_on_is_refused_by_name(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        db = EmbeddedPostgres(Settings(home=tmp_path, postgres_port=port))
        with pytest.raises(DatabaseError, match=f"127.0.0.1:{port} is in use.*SENTIRIC_POSTGRES_PORT"):
            db._free_port()


def test_a_free_port_is_the_configured_one(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    db = EmbeddedPostgres(Settings(home=tmp_path, postgres_port=port))
    assert db._free_port() == port
