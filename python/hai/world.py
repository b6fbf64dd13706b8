"""Rank and world information from the pod environment set by hai-manager."""

import os


def _int_env(name, default):
    value = os.environ.get(name, "")
    try:
        return int(value)
    except ValueError:
        return default


def rank():
    """This rank's index, 0-based (``RANK``; 0 outside hai)."""
    return _int_env("RANK", 0)


def world_size():
    """Number of ranks (nodes) of the task (``WORLD_SIZE``; 1 outside hai)."""
    return _int_env("WORLD_SIZE", 1)


def is_rank0():
    return rank() == 0


def task_id():
    """The chain id: stable across suspensions (``HAI_CHAIN_ID``; 0 outside hai)."""
    return _int_env("HAI_CHAIN_ID", 0)


def local_node():
    """Name of the node this rank runs on (``HAI_NODE``)."""
    return os.environ.get("HAI_NODE", "")
