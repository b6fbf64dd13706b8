"""hai in-task SDK: what a training script needs to cooperate with the scheduler.

Standard library only; import it with ``PYTHONPATH=<hai>/python``. Every rank can call every
function: the suspend notice is per attempt, so all ranks see it, not just rank 0.

Typical training loop::

    import hai
    start = load_checkpoint_if_any()
    for step in range(start, total):
        train_one_step()
        if hai.receive_suspend_command():
            save_checkpoint(step)
            hai.go_suspend()       # the manager stops the ranks now; the task is requeued
            break

The SDK talks to haid's task-control endpoints (``$HAI_CONTROL_URL/v1/task/<attempt>/...``)
authenticated by the per-attempt token in ``$HAI_TASK_TOKEN``. Network hiccups never raise
from ``receive_suspend_command()``: a training step must not die because haid restarted.
"""

from hai.client import (
    HaiError,
    TaskControl,
    default_control,
    get_whole_life_state,
    go_suspend,
    receive_suspend_command,
    set_whole_life_state,
)
from hai.world import is_rank0, local_node, rank, task_id, world_size

__all__ = [
    "HaiError",
    "TaskControl",
    "default_control",
    "get_whole_life_state",
    "go_suspend",
    "is_rank0",
    "local_node",
    "rank",
    "receive_suspend_command",
    "set_whole_life_state",
    "task_id",
    "world_size",
]
