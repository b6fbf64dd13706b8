"""A training task for the fault campaign (test/fault/campaign.py).

Counts steps, checkpoints every 10 steps (rank 0 writes the checkpoint, every rank reads it
at start), honours the suspend notice unless told to ignore it, and appends every event to an
append-only step log per chain and rank, which the campaign's checkers read:
    start <attempt_id> <step>     the attempt began from this step (the checkpoint)
    step <attempt_id> <step>      a step completed
    ckpt <attempt_id> <step>      rank 0 saved this step as the checkpoint
    done <attempt_id> <step>      the task finished all its steps

usage: train_steps.py TOTAL_STEPS honour|ignore STATE_DIR
"""
import os
import sys
import time

import hai

total = int(sys.argv[1])
ignore_notice = sys.argv[2] == "ignore"
state_dir = sys.argv[3]
rank = int(os.environ["RANK"])
chain = os.environ["HAI_CHAIN_ID"]
attempt = os.environ["HAI_ATTEMPT_ID"]
ckpt_path = os.path.join(state_dir, f"{chain}.ckpt")
log_path = os.path.join(state_dir, f"{chain}.r{rank}.steps")


def log(kind, step):
    # O_APPEND writes of one short line are atomic: concurrent ranks never interleave.
    with open(log_path, "a") as f:
        f.write(f"{kind} {attempt} {step}\n")


def save(step):
    tmp = f"{ckpt_path}.{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(str(step))
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, ckpt_path)
    log("ckpt", step)


step = 0
if os.path.exists(ckpt_path):
    with open(ckpt_path) as f:
        step = int(f.read().strip() or 0)
log("start", step)
while step < total:
    if not ignore_notice and hai.receive_suspend_command():
        if rank == 0:
            save(step)
        hai.go_suspend()
        time.sleep(120)  # the manager stops us
    time.sleep(0.1)
    step += 1
    log("step", step)
    if rank == 0 and step % 10 == 0:
        save(step)
if rank == 0:
    save(step)
log("done", step)
