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


FAKE_PSQL = """#!/bin/sh
# psql as seen once late in a loaded CI run: the client dies of SIGBUS (before the server answers)
case "$*" in *"CREATE DATABASE"*) exit 0;; esac
if [ "{crash}" = always ] || [ ! -e "{marker}" ]; then
    touch "{marker}"
    kill -BUS $$
fi
if [ "{crash}" = refuse ]; then
    echo 'psql: error: FATAL:  password authentication failed for user "sentiric"' >&2
    exit 2
fi
echo 1
"""


def fake_psql(tmp_path: Path, crash: str) -> EmbeddedPostgres:
    tools = tmp_path / f"bin-{crash}"
    tools.mkdir()
    shared = tmp_path / f"shared-{crash}"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)  # the fake runs as the `sentiric` user when the tests run as root
    psql = tools / "psql"
    psql.write_text(FAKE_PSQL.format(crash=crash, marker=shared / "crashed-once"))
    psql.chmod(0o755)
    db = EmbeddedPostgres(Settings(home=tmp_path / f"home-{crash}"))
    db.bin_dir = tools
    db.pgdata.mkdir(parents=True)
    db.password_file.write_text("secret\n")
    db._prepare_directory(db._run_as())
    return db


def test_a_psql_that_dies_of_a_signal_is_asked_once_more(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = fake_psql(tmp_path, crash="once")
    db._ensure_database(5432, db._run_as())
    said = capsys.readouterr().out
    assert "psql failed: killed by signal 7" in said and "asking once more" in said

    with pytest.raises(DatabaseError, match=r"psql failed: killed by signal 7") as crashed:
        fake_psql(tmp_path, crash="always")._ensure_database(5432, db._run_as())
    assert crashed.value.signal == 7


def test_a_refusal_from_the_server_is_reported_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = fake_psql(tmp_path, crash="refuse")
    (tmp_path / "shared-refuse" / "crashed-once").touch()  # no crash: the server says no
    with pytest.raises(DatabaseError, match="password authentication failed") as refused:
        db._ensure_database(5432, db._run_as())
    assert refused.value.signal is None
    assert "asking once more" not in capsys.readouterr().out
