#!/usr/bin/env python3
"""Independent strict-FIFO calculation, checked against hai-sim's FIFO baseline.

Written from the model in docs/simulation.md, sharing no code with bench/sim: each group is
simulated on its own with a heap of finish times. A job needing g GPUs on nodes of G GPUs
takes ceil(g / G) nodes (or num_nodes when larger); one node: best fit (the node with the
fewest free GPUs that still has g, ties: lowest index); several: the lowest-index nodes
with every GPU free. Jobs start in (submit, file row) order; the first that does not fit
blocks its group. Jobs larger than their group never run. Times are whole seconds.

  fifo_reference.py --hai-sim BIN synthetic         random contended traces (always run)
  fifo_reference.py --hai-sim BIN philly DIR        the Philly window at full and half size;
                                                    exit 77 (skip) when DIR lacks the trace
Every job's first start and finish must match exactly, and so must the mean JCT.
Standard library only.
"""
import argparse
import csv
import heapq
import math
import os
import random
import subprocess
import sys
import tempfile
import time

SKIP = 77


def read_cluster(path, scale, default_gpus):
    groups = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            name = row.get("group") or row.get("vc")
            nodes = int(row.get("nodes") or row.get("node_num"))
            gpus = int(row.get("gpus_per_node") or default_gpus)
            groups[name] = (max(1, math.floor(nodes * scale + 0.5)), gpus)
    return groups


def read_trace(path):
    jobs = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            jobs.append({
                "id": row["job_id"],
                "group": row.get("vc") or row.get("group"),
                "submit": int(round(float(row["submit_time_s"]))),
                "duration": int(round(float(row["duration_s"]))),
                "gpus": int(row["num_gpus"]),
                "nodes": int(row["num_nodes"]) if row.get("num_nodes") else 0,
            })
    return jobs


def fifo(jobs, groups):
    """Returns {job id: (start, finish)} and the ids that can never run."""
    result, rejected = {}, set()
    by_group = {}
    for index, j in enumerate(jobs):
        by_group.setdefault(j["group"], []).append((j["submit"], index, j))
    for name, entries in by_group.items():
        node_count, per_node = groups[name]
        free = [per_node] * node_count
        entries.sort(key=lambda e: (e[0], e[1]))
        queue = []          # waiting jobs in FIFO order
        running = []        # heap of (finish, seq, [(node, gpus)])
        seq = 0
        arrivals = iter(entries)
        nxt = next(arrivals, None)
        head = 0
        while nxt is not None or running or head < len(queue):
            times = []
            if nxt is not None:
                times.append(nxt[0])
            if running:
                times.append(running[0][0])
            if not times:
                raise AssertionError("queue stuck in group %s" % name)
            now = min(times)
            while running and running[0][0] == now:
                _, _, held = heapq.heappop(running)
                for node, gpus in held:
                    free[node] += gpus
            while nxt is not None and nxt[0] == now:
                j = nxt[2]
                nodes = max(j["nodes"], -(-j["gpus"] // per_node))
                if nodes > node_count:
                    rejected.add(j["id"])
                else:
                    queue.append((j, nodes))
                nxt = next(arrivals, None)
            while head < len(queue):
                j, nodes = queue[head]
                held = None
                if nodes == 1:
                    best = None
                    for i in range(node_count):
                        if free[i] >= j["gpus"] and (best is None or free[i] < free[best]):
                            best = i
                    if best is not None:
                        held = [(best, j["gpus"])]
                else:
                    whole = [i for i in range(node_count) if free[i] == per_node][:nodes]
                    if len(whole) == nodes:
                        held = [(i, per_node) for i in whole]
                if held is None:
                    break
                for node, gpus in held:
                    free[node] -= gpus
                result[j["id"]] = (now, now + j["duration"])
                seq += 1
                heapq.heappush(running, (now + j["duration"], seq, held))
                head += 1
    return result, rejected


def run_sim(hai_sim, trace, cluster, scale, out):
    cmd = [hai_sim, "--trace", trace, "--cluster", cluster, "--scale", str(scale),
           "--policies", "fifo", "--out", out]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise AssertionError("%s failed (%d): %s" % (" ".join(cmd), proc.returncode, proc.stderr))
    sim = {}
    with open(os.path.join(out, "jobs-fifo.csv"), newline="") as f:
        for row in csv.DictReader(f):
            sim[row["job_id"]] = row
    return sim, time.monotonic() - t0


def compare(label, hai_sim, trace, cluster, scale, default_gpus=8):
    jobs = read_trace(trace)
    groups = read_cluster(cluster, scale, default_gpus)
    t0 = time.monotonic()
    expected, rejected = fifo(jobs, groups)
    ref_s = time.monotonic() - t0
    with tempfile.TemporaryDirectory() as out:
        sim, sim_s = run_sim(hai_sim, trace, cluster, scale, out)
    mismatches = []
    for j in jobs:
        row = sim[j["id"]]
        if j["id"] in rejected:
            if not row["rejected"]:
                mismatches.append("%s: the reference rejects it, hai-sim ran it" % j["id"])
            continue
        got = (int(row["first_start_s"]), int(row["finish_s"]))
        if got != expected[j["id"]]:
            mismatches.append("%s: hai-sim start/finish %s, reference %s"
                              % (j["id"], got, expected[j["id"]]))
    if mismatches:
        print("%s: %d of %d jobs differ, first ones:" % (label, len(mismatches), len(jobs)))
        for m in mismatches[:10]:
            print("  " + m)
        return False
    done = [j for j in jobs if j["id"] not in rejected]
    jct = sum(expected[j["id"]][1] - j["submit"] for j in done) / max(1, len(done))
    delayed = sum(1 for j in done if expected[j["id"]][0] > j["submit"])
    print("%s: %d jobs (%d rejected, %d delayed) identical; mean JCT %.1f s; reference %.1f s, "
          "hai-sim %.1f s" % (label, len(jobs), len(rejected), delayed, jct, ref_s, sim_s))
    return True


def synthetic(hai_sim):
    ok = True
    with tempfile.TemporaryDirectory() as d:
        for seed in range(1, 6):
            rng = random.Random(seed)
            trace = os.path.join(d, "trace-%d.csv" % seed)
            cluster = os.path.join(d, "cluster-%d.csv" % seed)
            with open(cluster, "w") as f:
                f.write("group,nodes,gpus_per_node\na,6,8\nb,3,4\n")
            t = 0
            with open(trace, "w") as f:
                f.write("job_id,user,vc,submit_time_s,duration_s,num_gpus,num_nodes\n")
                for i in range(1500):
                    t += rng.choice([0, 5, 30, 60, 120, 240])
                    group = rng.choice(["a", "a", "b"])
                    gpus = rng.choice([1, 1, 1, 2, 3, 4, 8, 12, 16, 40])
                    nodes = rng.choice(["", "", "", "2"])
                    f.write("s%d-%d,,%s,%d,%d,%d,%s\n"
                            % (seed, i, group, t, rng.randint(0, 900), gpus, nodes))
            ok &= compare("synthetic seed %d" % seed, hai_sim, trace, cluster, 1.0)
    return ok


def philly(hai_sim, folder):
    trace = os.path.join(folder, "philly_window.csv")
    cluster = os.path.join(folder, "philly_vc_nodes.csv")
    if not (os.path.exists(trace) and os.path.exists(cluster)):
        print("SKIP: the Philly trace is not in %s (it sits in ../shared/data/traces beside "
              "the checkout; configure with -DHAI_TRACES_DIR=... to point elsewhere)" % folder)
        return None
    ok = compare("philly full size", hai_sim, trace, cluster, 1.0)
    ok &= compare("philly half size", hai_sim, trace, cluster, 0.5)
    return ok


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--hai-sim", required=True)
    p.add_argument("mode", choices=["synthetic", "philly"])
    p.add_argument("folder", nargs="?")
    a = p.parse_args()
    if a.mode == "synthetic":
        return 0 if synthetic(a.hai_sim) else 1
    ok = philly(a.hai_sim, a.folder or "")
    if ok is None:
        return SKIP
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
