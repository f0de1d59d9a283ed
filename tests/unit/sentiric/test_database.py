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


FAKE_INITDB = """#!/bin/sh
# a stand-in initdb: the first run fails half-way (as initdb's bootstrap backend once did under load),
# leaving files behind and ending on its clean-up's complaint; the second run makes a cluster
pgdata="$2"
if [ "{always}" = yes ] || [ ! -e "{marker}" ]; then
    touch "{marker}" "$pgdata/postmaster.pid"
    echo "running bootstrap script ... " >&2
    echo "FATAL:  could not create shared memory segment: No space left on device" >&2
    echo "initdb: removing contents of data directory \\"$pgdata\\"" >&2
    echo "initdb: error: failed to remove contents of data directory" >&2
    exit 1
fi
echo 16 > "$pgdata/PG_VERSION"
touch "$pgdata/postgresql.conf"
"""


def test_a_failed_initdb_is_reported_with_its_cause_and_tried_once_more_on_a_cleared_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tools = tmp_path / "bin"
    tools.mkdir()
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)  # the fake runs as the `sentiric` user when the tests run as root
    initdb = tools / "initdb"
    initdb.write_text(FAKE_INITDB.format(marker=shared / "failed-once", always="no"))
    initdb.chmod(0o755)
    db = EmbeddedPostgres(Settings(home=tmp_path / "home"))
    db.bin_dir = tools
    assert db.init() is True
    assert (db.pgdata / "PG_VERSION").read_text() == "16\n"
    assert not (db.pgdata / "postmaster.pid").exists()  # the first run's leftovers were cleared
    said = capsys.readouterr().out
    assert "could not create shared memory segment" in said and "trying once more" in said

    initdb.write_text(FAKE_INITDB.format(marker=shared / "failed-once", always="yes"))  # fails every time
    again = EmbeddedPostgres(Settings(home=tmp_path / "home2"))
    again.bin_dir = tools
    with pytest.raises(DatabaseError, match=r"initdb failed: .*could not create shared memory segment"):
        again.init()
