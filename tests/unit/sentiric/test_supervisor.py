"""The supervisor's parts without a platform: edge slots, the run file, the parent-death signal, and
the restart loop over a real (short-lived) child process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sentiric.processes import RunFile, alive, parent_death_signal, start_time
from sentiric.settings import Settings
from sentiric.supervisor import ProcessChild, Supervisor, edge_slots


def wait_dead(pid: int, started: int | None, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid, started):
            return True
        time.sleep(0.05)
    return False


def test_each_edge_gets_its_own_node_id_ports_and_rtp_slice() -> None:
    s = Settings(sip_port=5060, ws_port=8081, grpc_port=50051, edge_metrics_port=9101,
                 rtp_port_min=20000, rtp_port_max=20998, up_edge_port_stride=10)  # fmt: skip
    one, two = edge_slots(s, 2)
    assert (one.node_id, two.node_id) == ("edge-1", "edge-2")
    assert (one.sip_port, two.sip_port, two.ws_port, two.grpc_port, two.metrics_port) == (
        5060, 5070, 8091, 50061, 9111,
    )  # fmt: skip
    assert one.rtp_min == 20000 and one.rtp_max < two.rtp_min and two.rtp_max <= 20998
    assert one.rtp_min % 2 == 0 and two.rtp_min % 2 == 0
    assert edge_slots(s, 1)[0].sip_port == 5060 and edge_slots(s, 1)[0].node_id == "edge-1"


def test_the_run_file_ends_what_a_dead_supervisor_left(tmp_path: Path) -> None:
    leftover = subprocess.Popen(["sleep", "60"], start_new_session=True)
    run_file = RunFile(tmp_path / "up.run.json")
    run_file.write([("worker", leftover.pid)])
    assert run_file.running_owner() is None  # this process is the owner: not "another" up
    (stale,) = run_file.clean_stale(grace_s=2)
    assert stale.pid == leftover.pid
    assert leftover.wait(5) == -signal.SIGTERM
    assert not run_file.path.exists()


def test_a_reused_pid_is_not_mistaken_for_a_recorded_child() -> None:
    me = os.getpid()
    assert alive(me, start_time(me)) and not alive(me, (start_time(me) or 0) + 1)


def test_a_child_dies_with_its_killed_parent() -> None:
    # The parent (a Python process) starts `sleep` with the parent-death signal, then is killed -9.
    code = (
        "import subprocess, sys, time, signal\n"
        "from sentiric.processes import parent_death_signal\n"
        "p = subprocess.Popen(['sleep', '60'], preexec_fn=parent_death_signal(signal.SIGTERM))\n"
        "print(p.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    grandchild = int(parent.stdout.readline())
    started = start_time(grandchild)
    assert alive(grandchild, started)
    parent.kill()
    parent.wait()
    assert wait_dead(grandchild, started), "the child outlived its parent"
    assert callable(parent_death_signal())


async def test_a_child_that_exits_is_restarted_counted_and_the_stop_ends_it(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, up_restart_backoff_max_s=1.0, up_stop_timeout_s=3.0)
    child = ProcessChild("sleeper", argv=["sh", "-c", "sleep 0.3"], env=dict(os.environ))
    supervisor = Supervisor(settings, [child], RunFile(tmp_path / "up.run.json"))
    metrics = settings.data_dir / "up.metrics.prom"

    async def announce() -> None:
        pass

    run = asyncio.create_task(supervisor.run(announce))
    deadline = time.monotonic() + 20
    while supervisor.metrics.counter.labels("sleeper")._value.get() < 2:
        assert time.monotonic() < deadline and not run.done()
        await asyncio.sleep(0.1)
    assert 'sentiric_supervisor_restarts_total{child="sleeper"}' in metrics.read_text()
    child.argv = ["sleep", "60"]  # the next start stays up: the stop must end it within the deadline
    while child.pid() is None or child.returncode() is not None or child.argv[0] not in _cmdline(child.pid()):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    began = time.monotonic()
    supervisor.stopping.set()
    assert await asyncio.wait_for(run, 10) == 0
    assert time.monotonic() - began < 3.5 and child.returncode() is not None
    assert not metrics.exists()


def _cmdline(pid: int | None) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""
