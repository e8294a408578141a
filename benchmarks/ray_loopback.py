"""Ray clusters that the benchmarks start listen on 127.0.0.1 only, as the tests' clusters do.

Ray 2.60 binds a node to the machine's own address, reachable from its network, and asking for
``node_ip_address="127.0.0.1"`` does not help: its clients then look for the GCS at the machine's
address and never connect. With its multi-node mode off (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``,
meant for Windows and macOS) its node address is the loopback on Linux too, and
``ray.cluster_utils.Cluster`` still runs several nodes (only the ``ray start`` command refuses a
second one). Ray reads it when it is imported: call :func:`on_loopback` first.
"""

from __future__ import annotations

import os

__all__ = ["on_loopback"]


def on_loopback() -> None:
    """Make the Ray clusters this process starts (and its children, which inherit the
    environment) listen on 127.0.0.1; a value set by the caller's environment is kept."""
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
