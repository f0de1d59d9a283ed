"""A real three-node KRaft cluster, SASL_SSL with a private CA, for the cluster tests (one per module).

The nodes listen on ports derived from two free base ports (node n: +10*(n-1), see settings.py), chosen
so that every derived port is free now. The cluster runs in managed mode (stopped by the fixture, and
by the kernel's parent-death signal if pytest is killed) under a private home; the jars come from the
machine's cache.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sentiric.broker.cluster import LocalKafkaCluster, free_base_ports
from sentiric.settings import Settings

NODES = 3
NODE_HEAP = "384m"  # three JVMs on a 2-core machine; a node idles at ~150 MB of heap


def cluster_settings(home: Path, cache: Path, *, nodes: int = NODES, secure: bool = True) -> Settings:
    """Settings for a private local cluster whose every derived port is free now."""
    port, controller = free_base_ports(nodes, secure=secure)
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
        shutil.rmtree(home, ignore_errors=True)
