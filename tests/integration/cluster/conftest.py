"""A real three-node KRaft cluster, SASL_SSL with a private CA, for the cluster tests (one per module).

The nodes listen on ports derived from two free base ports (node n: +10*(n-1), see settings.py), chosen
so that every derived port is free now. The cluster runs in managed mode (stopped by the fixture, and
by the kernel's parent-death signal if pytest is killed) under a private home; the jars come from the
machine's cache.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sentiric.broker.cluster import INTERNAL_PORT_OFFSET, LocalKafkaCluster
from sentiric.net import free_port, port_free
from sentiric.settings import KAFKA_NODE_PORT_STRIDE, Settings

NODES = 3
NODE_HEAP = "384m"  # three JVMs on a 2-core machine; a node idles at ~150 MB of heap


def cluster_settings(home: Path, cache: Path, *, nodes: int = NODES, secure: bool = True) -> Settings:
    """Settings for a private local cluster whose every derived port is free now."""
    for _ in range(100):
        port, controller = free_port(), free_port()
        shifts = [KAFKA_NODE_PORT_STRIDE * i for i in range(nodes)]
        ports = [port + s for s in shifts] + [controller + s for s in shifts]
        ports += [port + s + INTERNAL_PORT_OFFSET for s in shifts] if secure else []
        if len(set(ports)) == len(ports) and max(ports) < 65536 and all(port_free(p) for p in ports):
            break
    else:
        raise RuntimeError("no free set of cluster ports")
    return Settings(
        home=home,
        cache_home=cache,
        kafka_port=port,
        kafka_controller_port=controller,
        kafka_nodes=nodes,
        kafka_heap=NODE_HEAP,
        kafka_security_protocol="SASL_SSL" if secure else "PLAINTEXT",
    )


@pytest.fixture(scope="module")
def secure_cluster(machine_cache_dir: Path) -> Iterator[LocalKafkaCluster]:
    """A running three-node SASL_SSL cluster, private to the test module."""
    home = Path(tempfile.mkdtemp(prefix="sentiric-cluster-"))
    cluster = LocalKafkaCluster(cluster_settings(home, machine_cache_dir))
    cluster.start(detach=False)
    try:
        yield cluster
    finally:
        cluster.stop()
        import shutil

        shutil.rmtree(home, ignore_errors=True)
