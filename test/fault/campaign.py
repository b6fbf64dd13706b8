#!/usr/bin/env python3
"""Fault campaign (issue 16): a seeded schedule of faults against a churning workload on the
embedded default, a recorded history, and checkers that read it (docs/reliability.md).

One run: start a private Postgres and Redis, haid with NODES local nodes of 2 GPUs and
JUPYTER_NODES nodes of 1 GPU in a Jupyter group, three users with quotas; submit TASKS training
tasks (test/fault/train_steps.py: count steps, checkpoint, honour the suspend notice or ignore
it) of every shape (1 GPU, whole node, 2-node gangs) and tier, with user stops,
suspends/resumes and priority changes among them, and open and stop Jupyter notebooks (real
jupyter-notebook servers, with a GPU or none); inject FAULTS faults at seeded times (SIGKILL and
SIGSTOP/SIGCONT of haid, of managers and of rank supervisors, a task killing its own process
group, Postgres restart, outage and pg_terminate_backend, Redis restart, a full data dir);
wait until every acknowledged task and notebook has ended; then check:

  final      every acknowledged submit reaches exactly one final state, no attempt left open
  gpus       no GPU is held by two attempts at any instant: from the pods' start/end intervals
             and from the processes seen in /proc (sampled every 0.2 s)
  quota      no user holds more nodes at a tier than its quota at any instant
  steps      no attempt starts behind the last checkpoint, steps within an attempt are
             contiguous, and every succeeded task has exactly its step count
  orphans    no process of an attempt outlives the attempt (2 s of slack for the reaper)
  cycles     no preemption cycle (A suspends B, then B suspends A, with no priority change)
  health     haid answers /healthz within 1 s of each fault ending (recorded per kind)

The fault kinds and times come from --seed alone, so a seed replays the same schedule; the
victim of each fault is drawn by the same seeded generator among what runs at that moment.
Exit status 0 when no checker found a violation, 1 otherwise; a failing seed is printed.

usage: campaign.py --src DIR --bin-dir DIR [--seed N] [--tasks N] [--faults N]
                   [--nodes N] [--jupyter-nodes N] [--max-outage-s 5|20|60]
                   [--pg-port P] [--redis-port P] [--json FILE] [--keep]
"""
import argparse
import collections
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

USERS = ["alice", "bob", "carol"]
TIERS = ["LOW", "NORMAL", "HIGH"]
GPUS_PER_NODE = 2
QUOTA = {"LOW": 4, "NORMAL": 3, "HIGH": 2}  # nodes per user and tier (public rows)
TIER_VALUES = {"LOW": 0, "NORMAL": 10, "HIGH": 30}  # common/model/tier.h
FAULT_KINDS = [
    "haid_kill", "haid_stop", "manager_kill", "manager_stop", "rank_supervisor_kill",
    "rank_supervisor_stop", "task_kills_own_group", "pg_restart", "pg_outage", "pg_terminate",
    "redis_restart", "disk_full",
]
# Jupyter containers: a node group of their own (1 GPU per node), each user may hold one
# container of 1 CPU, 1 GiB and at most 1 GPU at a time.
JUPYTER_QUOTA = {"containers": 1, "cpu": 1, "memory_gib": 1, "gpus": 1}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Campaign:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.work = tempfile.mkdtemp(prefix="hai-campaign-")
        os.chmod(self.work, 0o755)  # as root, Postgres runs as `postgres`
        self.state = os.path.join(self.work, "state")
        os.makedirs(self.state)
        os.chmod(self.state, 0o777)
        self.bin = args.bin_dir
        self.src = args.src
        self.grpc_port, self.http_port = free_port(), free_port()
        self.haid = None
        self.config = None  # written by setup(); teardown must not trip over a failed setup
        self.haid_log = open(os.path.join(self.work, "haid.log"), "ab")
        self.lock = threading.Lock()
        self.acked = {}  # chain id -> {"user", "steps", "stopped"}
        self.notebooks = {}  # chain id of an acknowledged Jupyter create -> {"user", "name"}
        self.samples = []  # (time, {(node, gpu): {attempt ids}}, {attempt ids seen})
        self.faults = []  # {"kind", "at", "victim", "recovery_s"}
        self.stop_sampling = threading.Event()
        self.log_lines = []
        self.cmdlines = {}  # attempt -> the last process of it seen, for the report
        # (Postgres epoch seconds, tier name, quota) of every quota edit, the initial rows first.
        self.quota_history = []
        self.disk = None  # the tmpfs under the data dir, when one could be mounted

    # ------------------------------------------------------------------ plumbing

    def say(self, *parts):
        line = " ".join(str(p) for p in parts)
        self.log_lines.append(line)
        print(f"[campaign {time.strftime('%H:%M:%S')}] {line}", flush=True)

    def services(self, cmd):
        return subprocess.run(
            [os.path.join(self.src, "scripts/services.sh"), cmd,
             os.path.join(self.work, "services"), str(self.args.pg_port),
             str(self.args.redis_port)],
            check=True, capture_output=True, text=True).stdout

    def sql(self, query):
        r = subprocess.run(["psql", "-qAtX", "-v", "ON_ERROR_STOP=1", "-F", "\t", self.pg_url,
                            "-c", query], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"psql: {query[:120]}: {r.stderr.strip()}")
        return [line.split("\t") for line in r.stdout.splitlines() if line]

    def cli(self, user, *args, timeout=30):
        env = dict(os.environ, HAI_CONFIG_DIR=os.path.join(self.work, "home-" + user))
        try:
            r = subprocess.run([os.path.join(self.bin, "hai-cli"), *args], env=env,
                               capture_output=True, text=True, timeout=timeout)
            return r.returncode, r.stdout + r.stderr
        except subprocess.TimeoutExpired:
            return 124, "timeout"

    def healthy(self):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/healthz", timeout=0.5)
            return True
        except Exception:
            return False

    def wait_healthy(self, limit_s=30.0):
        t0 = time.monotonic()
        while time.monotonic() - t0 < limit_s:
            if self.healthy():
                return time.monotonic() - t0
            time.sleep(0.02)
        return None

    # ------------------------------------------------------------------ setup

    def setup(self):
        exports = self.services("start")
        for line in exports.splitlines():
            if line.startswith("export HAI_PG_URL="):
                self.pg_url = line.split("=", 1)[1].strip("'\"")
        nodes = "".join(f'[[nodes]]\nname = "node-{i}"\ngroup = "default"\ngpus = {GPUS_PER_NODE}\n'
                        for i in range(self.args.nodes))
        nodes += "".join(f'[[nodes]]\nname = "jnode-{i}"\ngroup = "jupyter"\ngpus = 1\n'
                         'jupyter = true\n' for i in range(self.args.jupyter_nodes))
        self.config = os.path.join(self.work, "haid.toml")
        with open(self.config, "w") as f:
            f.write(f"""[server]
grpc_listen = "127.0.0.1:{self.grpc_port}"
http_listen = "127.0.0.1:{self.http_port}"
data_dir = "{self.work}/var"
[database]
url = "{self.pg_url}"
pool_size = 4
[redis]
host = "127.0.0.1"
port = {self.args.redis_port}
prefix = "campaign"
[scheduler]
tick_ms = 300
kill_grace_s = 1
suspend_grace_s = 3
manager_timeout_s = 3
# Rank-supervisor kills are injected on purpose: they must not take the nodes out of service.
node_lost_ranks_unhealthy = 0
[manager]
binary = "{self.bin}/hai-manager"
heartbeat_ms = 300
[jupyter]
default_group = "jupyter"
idle_timeout_s = 0
{nodes}""")
        subprocess.run([os.path.join(self.bin, "haid"), "migrate", "--config", self.config],
                       check=True, capture_output=True)
        for u in USERS:
            token = f"{u}-campaign-token"
            digest = hashlib.sha256(token.encode()).hexdigest()
            self.sql(f"INSERT INTO users (user_name, role, token_hash) VALUES ('{u}', 'internal', '{digest}')")
            home = os.path.join(self.work, "home-" + u)
            os.makedirs(home)
            rc, out = self.cli(u, "init", token, "--url", f"127.0.0.1:{self.grpc_port}")
            assert rc == 0, out
        digest = hashlib.sha256(b"root-campaign-token").hexdigest()
        self.sql(f"INSERT INTO users (user_name, role, token_hash) VALUES ('root', 'admin', '{digest}')")
        os.makedirs(os.path.join(self.work, "home-root"))
        rc, out = self.cli("root", "init", "root-campaign-token", "--url",
                           f"127.0.0.1:{self.grpc_port}")
        assert rc == 0, out
        for tier, q in QUOTA.items():
            rows = self.sql("INSERT INTO quota (owner_kind, owner, resource, quota) VALUES "
                            f"('public', 'public', 'node-default-{tier}', {q}) "
                            "RETURNING extract(epoch FROM clock_timestamp())")
            self.quota_history.append((0.0, tier, q))
        for u in USERS:
            for what, q in JUPYTER_QUOTA.items():
                self.sql("INSERT INTO quota (owner_kind, owner, resource, quota) VALUES "
                         f"('user', '{u}', 'jupyter:jupyter:{what}', {q})")
        # The data dir (logs, run files) on a small tmpfs of its own, so a full disk can be
        # injected; without the privilege to mount, the disk_full fault is skipped.
        var = os.path.join(self.work, "var")
        os.makedirs(var)
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256m", "tmpfs", var],
                          capture_output=True).returncode == 0:
            self.disk = var
        self.start_haid()
        assert self.wait_healthy() is not None, "haid did not start"

    def start_haid(self):
        self.haid = subprocess.Popen([os.path.join(self.bin, "haid"), "--config", self.config],
                                     stdout=self.haid_log, stderr=subprocess.STDOUT)

    def restart_haid_if_dead(self):
        if self.haid.poll() is not None:
            self.start_haid()

    # ------------------------------------------------------------------ history: /proc

    def scan_processes(self):
        """{(node, gpu): {attempt}} and every attempt with a live process, from /proc."""
        held = collections.defaultdict(set)
        seen = set()
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/environ", "rb") as f:
                    env = dict(kv.split(b"=", 1) for kv in f.read().split(b"\0") if b"=" in kv)
                with open(f"/proc/{pid}/stat") as f:
                    if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                        continue
            except (OSError, ValueError):
                continue
            attempt = env.get(b"HAI_ATTEMPT_ID")
            # Only this campaign's tasks: other clusters (tests running beside it) have theirs.
            if attempt is None or not env.get(b"HAI_LOG_DIR", b"").startswith(self.work.encode()):
                continue
            node = env.get(b"HAI_NODE", b"").decode()
            gpus = env.get(b"CUDA_VISIBLE_DEVICES", b"").decode()
            ids = [int(g) for g in gpus.split(",") if g.strip().isdigit()]
            if not ids and not node.startswith("jnode-"):
                ids = list(range(GPUS_PER_NODE))  # a whole training node
            seen.add(int(attempt))
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    self.cmdlines[int(attempt)] = f"pid {pid}: " + f.read().replace(b"\0", b" ").decode()[:160]
            except OSError:
                pass
            for g in ids:
                held[(node, g)].add(int(attempt))
        return held, seen

    def sampler(self):
        while not self.stop_sampling.is_set():
            held, seen = self.scan_processes()
            self.samples.append((time.time(), held, seen))
            time.sleep(0.2)

    # ------------------------------------------------------------------ workload

    def submit(self, i):
        user = self.rng.choice(USERS)
        tier = self.rng.choices(TIERS, weights=[4, 4, 2])[0]
        shape = self.rng.choices(["gpu", "node", "gang"], weights=[6, 3, 2])[0]
        steps = self.rng.randint(20, 60)
        honour = "ignore" if self.rng.random() < 0.2 else "honour"
        opts = {"gpu": ["-n", "1", "--gpus", "1"], "node": ["-n", "1"], "gang": ["-n", "2"]}[shape]
        script = os.path.join(self.src, "test/fault/train_steps.py")
        rc, out = self.cli(user, "python", script, str(steps), honour, self.state, "--", *opts,
                           "-p", tier, "--name", f"t{i}", "-e",
                           f"PYTHONPATH={self.src}/python", "--json")
        if rc != 0:
            self.say("submit refused:", rc, out.strip()[:200])
            return
        doc = json.loads(out[out.index("{"):])
        task = doc.get("task", doc)
        chain = int(task["chain_id"])
        with self.lock:
            self.acked[chain] = {"user": user, "steps": steps, "stopped": False, "shape": shape,
                                 "tier": tier}

    def user_action(self):
        with self.lock:
            open_chains = sorted(c for c, t in self.acked.items() if not t["stopped"])
        if not open_chains:
            return
        chain = self.rng.choice(open_chains)
        user = self.acked[chain]["user"]
        action = self.rng.choice(["stop", "suspend_resume", "priority"])
        if action == "stop":
            rc, _ = self.cli(user, "stop", str(chain))
            if rc == 0:
                with self.lock:
                    self.acked[chain]["stopped"] = True
        elif action == "suspend_resume":
            self.cli(user, "suspend", str(chain))
            time.sleep(self.rng.uniform(0.2, 1.5))
            self.cli(user, "resume", str(chain))
        else:
            self.cli(user, "priority", str(chain), self.rng.choice(TIERS))
        self.say("user action:", action, chain)

    def jupyter_action(self, i):
        """Opens a notebook (1 CPU, 1 GiB, a GPU or none) or stops one of the user's."""
        user = self.rng.choice(USERS)
        with self.lock:
            mine = sorted(c for c, n in self.notebooks.items()
                          if n["user"] == user and not n["stopped"])
        if mine and self.rng.random() < 0.5:
            chain = self.rng.choice(mine)
            rc, out = self.cli(user, "jupyter", "stop", self.notebooks[chain]["name"])
            if rc == 0:
                with self.lock:
                    self.notebooks[chain]["stopped"] = True
            self.say("jupyter stop", chain, rc)
            return
        name = f"j{i}"
        gpus = str(self.rng.choice([0, 1]))
        rc, out = self.cli(user, "jupyter", "create", "--name", name, "--cpu", "1", "--memory",
                           "1", "--gpus", gpus, "--no-wait", "--json")
        if rc != 0:  # over the user's container quota: a typed refusal, nothing to check
            self.say("jupyter create refused:", rc, out.strip()[:200])
            return
        doc = json.loads(out[out.index("{"):])
        chain = int(doc.get("container", doc).get("chain_id"))
        with self.lock:
            self.notebooks[chain] = {"user": user, "name": name, "stopped": False}
        self.say("jupyter create", chain, "gpus", gpus)

    def stop_notebooks(self):
        """Stops every notebook still open, so that the final checker can ask for an end."""
        for chain, n in sorted(self.notebooks.items()):
            if not n["stopped"]:
                rc, out = self.cli(n["user"], "jupyter", "stop", n["name"])
                if rc == 0:
                    n["stopped"] = True
                else:
                    self.say("jupyter stop failed:", chain, out.strip()[:200])

    def admin_action(self):
        """A drain of a node (uncordoned a few seconds later) or a quota edit by plain SQL."""
        if self.rng.random() < 0.5:
            node = f"node-{self.rng.randrange(self.args.nodes)}"
            self.cli("root", "admin", "node", "drain", node, "--reason", "campaign")
            delay = self.rng.uniform(2.0, 6.0)
            threading.Timer(delay, lambda: self.cli("root", "admin", "node", "uncordon",
                                                    node)).start()
            self.say("admin: drain", node, f"for {delay:.1f} s")
        else:
            tier = self.rng.choice(TIERS)
            value = self.rng.randint(1, QUOTA[tier] + 1)
            at = self.sql(f"UPDATE quota SET quota = {value} WHERE owner_kind = 'public' AND "
                          f"resource = 'node-default-{tier}' "
                          "RETURNING extract(epoch FROM clock_timestamp())")[0][0]
            self.quota_history.append((float(at), tier, value))
            self.say("admin: quota", tier, "=", value, "by SQL")

    # ------------------------------------------------------------------ faults

    def pids_matching(self, needle):
        out = subprocess.run(["pgrep", "-f", "--", needle], capture_output=True, text=True).stdout
        return sorted(int(p) for p in out.split())

    def is_task_process(self, pid):
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                is_task = f"HAI_LOG_DIR={self.work}".encode() in f.read()
            return is_task and os.getpgid(pid) != os.getpgid(0)
        except OSError:
            return False

    def pg(self, action):
        pg_bin = sorted(d for d in os.listdir("/usr/lib/postgresql"))[-1]
        ctl = f"/usr/lib/postgresql/{pg_bin}/bin/pg_ctl"
        if action == "start":  # as scripts/services.sh starts it (log file, options)
            self.services("start")
            return
        cmd = [ctl, "-D", os.path.join(self.work, "services/pg"), "-w", "-m", "fast", action]
        if os.getuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        subprocess.run(cmd, check=True, capture_output=True)

    def inject(self, kind):
        """Injects one fault; returns (victim description, time the fault ended)."""
        victim = ""
        if kind == "haid_kill":
            victim = f"haid {self.haid.pid}"
            self.haid.kill()
            self.haid.wait()
            time.sleep(self.rng.uniform(0.1, 1.0))
            self.start_haid()
        elif kind == "haid_stop":
            pause = self.rng.uniform(1.0, 4.0)
            victim = f"haid {self.haid.pid} for {pause:.1f} s"
            os.kill(self.haid.pid, signal.SIGSTOP)
            time.sleep(pause)
            os.kill(self.haid.pid, signal.SIGCONT)
        elif kind in ("manager_kill", "manager_stop", "rank_supervisor_kill",
                      "rank_supervisor_stop", "task_kills_own_group"):
            needle = {"manager_kill": f"hai-manager.*{self.config}",
                      "manager_stop": f"hai-manager.*{self.config}",
                      "rank_supervisor_kill": f"--exit-file {self.work}/var",
                      "rank_supervisor_stop": f"--exit-file {self.work}/var",
                      "task_kills_own_group": "train_steps.py"}[kind]
            pids = self.pids_matching(needle)
            if kind == "task_kills_own_group":  # the training processes, not hai-cli's argv
                pids = [p for p in pids if self.is_task_process(p)]
            if not pids:
                return "nothing running", time.monotonic()
            pid = self.rng.choice(pids)
            victim = f"pid {pid}"
            try:
                if kind == "task_kills_own_group":
                    os.killpg(os.getpgid(pid), signal.SIGKILL)
                elif kind.endswith("_stop"):
                    # Paused past manager_timeout_s (3 s) a manager is given up on and
                    # superseded: on SIGCONT its late writes must be refused (fencing).
                    pause = self.rng.uniform(1.0, 6.0)
                    victim += f" for {pause:.1f} s"
                    os.kill(pid, signal.SIGSTOP)
                    time.sleep(pause)
                    os.kill(pid, signal.SIGCONT)
                else:
                    os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                victim += " (already gone)"
        elif kind == "pg_restart":
            self.pg("stop")
            self.pg("start")
        elif kind == "pg_outage":
            down = self.rng.choice([o for o in (5, 20, 60) if o <= self.args.max_outage_s] or [5])
            victim = f"{down} s"
            self.pg("stop")
            time.sleep(down)
            self.pg("start")
        elif kind == "pg_terminate":
            rows = self.sql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                            "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()")
            victim = f"{rows[0][0]} backends"
        elif kind == "disk_full":
            if self.disk is None:
                return "no tmpfs (not root?)", time.monotonic()
            hold = self.rng.uniform(2.0, 6.0)
            filler = os.path.join(self.disk, "filler")
            with open(filler, "wb") as f:
                try:
                    while True:
                        f.write(b"\0" * (1 << 20))
                        f.flush()
                except OSError:
                    pass
            victim = f"data dir full for {hold:.1f} s"
            time.sleep(hold)
            os.unlink(filler)
        elif kind == "redis_restart":
            pids = self.pids_matching(f"redis-server.*:{self.args.redis_port}")
            for p in pids:
                os.kill(p, signal.SIGKILL)
            time.sleep(0.5)
            self.services("start")  # starts what is not running: Redis
            victim = f"redis {pids}"
        return victim, time.monotonic()

    # ------------------------------------------------------------------ the run

    def run(self):
        duration = max(30.0, self.args.tasks * 1.2)
        schedule = sorted((self.rng.uniform(3.0, duration), self.rng.choice(FAULT_KINDS))
                          for _ in range(self.args.faults))
        submits = sorted(self.rng.uniform(0.0, duration * 0.8) for _ in range(self.args.tasks))
        actions = sorted(self.rng.uniform(2.0, duration) for _ in range(self.args.tasks // 5))
        admin = sorted(self.rng.uniform(2.0, duration) for _ in range(self.args.tasks // 10))
        notebooks = sorted(self.rng.uniform(1.0, duration * 0.8)
                           for _ in range(max(2, self.args.tasks // 6)
                                          if self.args.jupyter_nodes else 0))
        self.say(f"seed {self.args.seed}: {self.args.tasks} tasks, {len(schedule)} faults over "
                 f"{duration:.0f} s:", ", ".join(f"{t:.1f}s {k}" for t, k in schedule))
        sampler = threading.Thread(target=self.sampler, daemon=True)
        sampler.start()
        events = ([(t, "submit", i) for i, t in enumerate(submits)] +
                  [(t, "action", None) for t in actions] +
                  [(t, "admin", None) for t in admin] +
                  [(t, "jupyter", i) for i, t in enumerate(notebooks)] +
                  [(t, "fault", k) for t, k in schedule])
        events.sort(key=lambda e: e[0])
        t0 = time.monotonic()
        for at, what, arg in events:
            delay = at - (time.monotonic() - t0)
            if delay > 0:
                time.sleep(delay)
            if what == "submit":
                self.submit(arg)
            elif what == "action":
                self.user_action()
            elif what == "admin":
                self.admin_action()
            elif what == "jupyter":
                self.jupyter_action(arg)
            else:
                victim, ended = self.inject(arg)
                recovery = self.wait_healthy()
                took = None if recovery is None else time.monotonic() - ended
                self.faults.append({"kind": arg, "at": round(at, 1), "victim": victim,
                                    "recovery_s": took})
                self.say(f"fault {arg} ({victim}): healthy again after "
                         f"{'never' if took is None else f'{took:.2f} s'}")
            self.restart_haid_if_dead()
        # Undo the admin actions (a quota lowered below a task's size keeps it waiting, as it
        # should), then let everything finish: every acknowledged task must reach a final state.
        for tier, q in QUOTA.items():
            at = self.sql(f"UPDATE quota SET quota = {q} WHERE owner_kind = 'public' AND "
                          f"resource = 'node-default-{tier}' "
                          "RETURNING extract(epoch FROM clock_timestamp())")[0][0]
            self.quota_history.append((float(at), tier, q))
        for i in range(self.args.nodes):
            self.cli("root", "admin", "node", "uncordon", f"node-{i}")
        deadline = time.monotonic() + self.args.drain_s
        while time.monotonic() < deadline:
            self.restart_haid_if_dead()
            self.stop_notebooks()
            ids = ",".join(str(c) for c in [*self.acked, *self.notebooks]) or "0"
            open_rows = self.sql(f"SELECT count(*) FROM chains WHERE chain_id IN ({ids}) "
                                 "AND final_state IS NULL")
            if int(open_rows[0][0]) == 0:
                break
            time.sleep(1.0)
        time.sleep(3.0)  # the reaper's slack, then the last samples
        self.stop_sampling.set()
        sampler.join()

    # ------------------------------------------------------------------ checkers

    def check(self):
        violations = []
        ids = ",".join(str(c) for c in [*self.acked, *self.notebooks]) or "0"
        # final: exactly one final state; no open attempt under a final chain.
        finals = {int(c): (s or None) for c, s in
                  self.sql(f"SELECT chain_id, coalesce(final_state, '') FROM chains "
                           f"WHERE chain_id IN ({ids})")}
        waiting = {int(c): f"{st} ({why})" for c, st, why in self.sql(
            "SELECT DISTINCT ON (chain_id) chain_id, state, end_reason FROM attempts "
            f"WHERE chain_id IN ({ids}) ORDER BY chain_id, attempt_no DESC")}
        for chain in [*self.acked, *self.notebooks]:
            if finals.get(chain) is None:
                what = self.acked.get(chain) or self.notebooks.get(chain)
                violations.append(("final", f"chain {chain} has no final state; its last "
                                            f"attempt is {waiting.get(chain)}; {what}"))
        for chain, att, state in self.sql(
                f"SELECT a.chain_id, a.attempt_id, a.state FROM attempts a JOIN chains c "
                f"USING (chain_id) WHERE c.final_state IS NOT NULL AND a.state IN "
                "('queued','scheduled','starting','running')"):
            violations.append(("final", f"chain {chain} is final but attempt {att} is {state}"))
        # gpus, from the pods' intervals (epoch seconds).
        pods = self.sql("SELECT p.attempt_id, p.node, array_to_string(p.gpus, ','), "
                        "extract(epoch FROM p.started_at), "
                        "extract(epoch FROM coalesce(p.ended_at, now())), c.kind FROM pods p "
                        "JOIN attempts a USING (attempt_id) JOIN chains c USING (chain_id) "
                        "WHERE p.started_at IS NOT NULL")
        by_gpu = collections.defaultdict(list)
        for att, node, gpus, start, end, kind in pods:
            ids_ = [int(g) for g in gpus.split(",") if g]
            if not ids_ and kind != "jupyter":  # a whole training node; a notebook holds none
                ids_ = list(range(GPUS_PER_NODE))
            for g in ids_:
                by_gpu[(node, g)].append((float(start), float(end), int(att)))
        for key, spans in by_gpu.items():
            spans.sort()
            for (s1, e1, a1), (s2, e2, a2) in zip(spans, spans[1:]):
                if a1 != a2 and s2 < e1 - 1e-3:
                    violations.append(("gpus", f"{key} held by attempts {a1} and {a2} in the "
                                               f"pods table ({e1 - s2:.2f} s overlap)"))
        # gpus and orphans, from /proc.
        ended = {int(a): float(e) for a, e in self.sql(
            "SELECT attempt_id, extract(epoch FROM ended_at) FROM attempts "
            "WHERE ended_at IS NOT NULL")}
        reported = set()
        for t, held, seen in self.samples:
            for key, atts in held.items():
                if len(atts) > 1 and (key, tuple(sorted(atts))) not in reported:
                    reported.add((key, tuple(sorted(atts))))
                    violations.append(("gpus", f"{key} used by processes of attempts "
                                               f"{sorted(atts)} at {t:.1f}"))
            for att in seen:
                if att in ended and t > ended[att] + 2.0 and ("orphan", att) not in reported:
                    reported.add(("orphan", att))
                    violations.append(("orphans", f"attempt {att} has processes "
                                                  f"{t - ended[att]:.1f} s after it ended "
                                                  f"({self.cmdlines.get(att, '')})"))
        _, still = self.scan_processes()
        for att in sorted(still):
            violations.append(("orphans", f"attempt {att} has processes after the run "
                                          f"({self.cmdlines.get(att, '')})"))
        # quota, at every decision: when an attempt was scheduled, its user's nodes at its
        # tier (its own included) were within the quota then in force. Tiers move with
        # priority changes and demotions, so each attempt's tier over time comes from its
        # events. An edit reaches haid by NOTIFY, so a decision within 1 s after an edit may
        # still use the quota from before it.
        # An attempt told to stop or suspend counts as freeing its nodes from that moment,
        # as the scheduler counts it (scheduler/policy/decide.h).
        info = {int(a): (u, int(n), float(s0), float(e0)) for a, u, n, s0, e0 in self.sql(
            "SELECT a.attempt_id, c.user_name, c.nodes, extract(epoch FROM a.scheduled_at), "
            "extract(epoch FROM least(coalesce(a.ended_at, now()), a.suspend_requested_at, "
            "a.stop_requested_at)) FROM attempts a "
            "JOIN chains c USING (chain_id) WHERE a.scheduled_at IS NOT NULL "
            "AND c.kind <> 'jupyter'")}
        timeline = collections.defaultdict(list)  # attempt -> [(time, tier)]
        decisions = []
        for at, att, kind, detail in self.sql(
                "SELECT extract(epoch FROM at), attempt_id, kind, detail::text FROM task_events "
                "WHERE kind IN ('scheduled', 'tier_changed', 'priority_changed') "
                "AND attempt_id IS NOT NULL ORDER BY event_id"):
            d = json.loads(detail)
            tier = {"scheduled": d.get("tier"), "tier_changed": d.get("to"),
                    "priority_changed": d.get("priority")}[kind]
            if tier is None or int(tier) < 0:
                continue
            timeline[int(att)].append((float(at), int(tier)))
            if kind == "scheduled":
                decisions.append((float(at), int(att), int(tier)))

        def tier_at(att, t):
            tier = None
            for at, value in timeline[att]:
                if at <= t:
                    tier = value
            return tier

        def quota_at(tier_name, t):
            q = 0
            for at, name, value in self.quota_history:
                if name == tier_name and at <= t:
                    q = value
            return q

        value_tier = {v: n for n, v in TIER_VALUES.items()}
        for t, att, tier in decisions:
            if att not in info or tier not in value_tier:
                continue
            user = info[att][0]
            held = sum(n for b, (u, n, s0, e0) in info.items()
                       if u == user and s0 <= t + 1e-3 and t < e0 and tier_at(b, t + 1e-3) == tier)
            name = value_tier[tier]
            allowed = max(quota_at(name, t), quota_at(name, t - 1.0))
            if held > allowed:
                violations.append(("quota", f"{user} held {held} nodes at {name} when attempt "
                                            f"{att} was scheduled at {t:.1f} (quota {allowed})"))
        # steps.
        for chain, t in self.acked.items():
            violations += self.check_steps(chain, t, finals.get(chain))
        # cycles: A suspends B then B suspends A with no priority change in between.
        seen_pairs = {}
        for ev_id, chain, kind, detail in self.sql(
                "SELECT event_id, chain_id, kind, coalesce(detail::text, '{}') FROM task_events "
                "WHERE kind IN ('suspend_requested', 'priority_changed') ORDER BY event_id"):
            d = json.loads(detail)
            if kind == "priority_changed":
                seen_pairs = {k: v for k, v in seen_pairs.items() if int(chain) not in k}
                continue
            pre = d.get("preemptor_chain_id")
            if not pre:
                continue
            victim, pre = int(chain), int(pre)
            if (victim, pre) in seen_pairs:
                violations.append(("cycles", f"chains {pre} and {victim} preempted each other"))
            seen_pairs[(pre, victim)] = int(ev_id)
        # health.
        for f in self.faults:
            if f["recovery_s"] is None or f["recovery_s"] > 1.0:
                violations.append(("health", f"{f['kind']} at {f['at']} s: /healthz after "
                                             f"{f['recovery_s']} s"))
        return violations

    def check_steps(self, chain, task, final):
        out = []
        lines = []
        rank_files = [f for f in os.listdir(self.state) if f.startswith(f"{chain}.r")]
        for name in rank_files:
            with open(os.path.join(self.state, name)) as f:
                lines.append((name, [l.split() for l in f if l.strip()]))
        last_ckpt = 0
        for name, entries in lines:
            current, expect = None, None
            for kind, att, step in entries:
                step = int(step)
                if kind == "ckpt":  # only rank 0 saves checkpoints
                    last_ckpt = max(last_ckpt, step)
                elif kind == "start":
                    current, expect = att, step + 1
                    if name.endswith(".r0.steps") and step < last_ckpt:
                        out.append(("steps", f"chain {chain} attempt {att} started at step "
                                             f"{step}, behind its checkpoint {last_ckpt}"))
                elif kind == "step":
                    if att != current or step != expect:
                        out.append(("steps", f"chain {chain} {name}: step {step} of attempt "
                                             f"{att} out of order (expected {expect})"))
                        break
                    expect = step + 1
                    if step > task["steps"]:
                        out.append(("steps", f"chain {chain} ran past {task['steps']} steps"))
                        break
        if final == "succeeded":
            r0 = [e for n, es in lines if n.endswith(".r0.steps") for e in es]
            if not r0 or r0[-1][0] != "done" or int(r0[-1][2]) != task["steps"]:
                out.append(("steps", f"chain {chain} succeeded without exactly "
                                     f"{task['steps']} steps: {r0[-1] if r0 else 'no log'}"))
        return out

    def teardown(self):
        try:
            if self.haid and self.haid.poll() is None:
                self.haid.terminate()
                self.haid.wait(timeout=15)
        except Exception:
            self.haid.kill()
        if self.config:
            subprocess.run(["pkill", "-KILL", "-f", self.config], capture_output=True)
        subprocess.run(["pkill", "-KILL", "-f", self.work], capture_output=True)
        if self.disk is not None:
            subprocess.run(["umount", "-l", self.disk], capture_output=True)
        try:
            self.services("stop")
        except Exception:
            pass
        if not self.args.keep:
            shutil.rmtree(self.work, ignore_errors=True)


def percentile(values, p):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", required=True)
    ap.add_argument("--bin-dir", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tasks", type=int, default=20)
    ap.add_argument("--faults", type=int, default=10)
    ap.add_argument("--nodes", type=int, default=4)
    ap.add_argument("--jupyter-nodes", type=int, default=2,
                    help="nodes of the Jupyter group (0: no notebooks in the workload)")
    ap.add_argument("--max-outage-s", type=int, default=20,
                    help="longest Postgres outage drawn among 5, 20 and 60 s")
    ap.add_argument("--drain-s", type=float, default=240.0)
    ap.add_argument("--pg-port", type=int, default=int(os.environ.get("HAI_TEST_PG_PORT", 55433)) + 9)
    ap.add_argument("--redis-port", type=int,
                    default=int(os.environ.get("HAI_TEST_REDIS_PORT", 56380)) + 9)
    ap.add_argument("--json", help="write the summary here")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    args.src = os.path.abspath(args.src)
    args.bin_dir = os.path.abspath(args.bin_dir)
    c = Campaign(args)
    violations = []
    try:
        c.setup()
        c.run()
        violations = c.check()
    finally:
        finals = collections.Counter()
        served = None
        try:
            nb = ",".join(str(x) for x in c.notebooks) or "0"
            served = int(c.sql(f"SELECT count(DISTINCT chain_id) FROM attempts WHERE chain_id "
                               f"IN ({nb}) AND started_at IS NOT NULL")[0][0])
        except Exception:
            pass
        try:
            ids = ",".join(str(x) for x in [*c.acked, *c.notebooks]) or "0"
            finals.update(s for (s,) in c.sql(
                f"SELECT coalesce(final_state, 'open') FROM chains WHERE chain_id IN ({ids})"))
        except Exception:
            pass
        c.teardown()
    by_kind = collections.defaultdict(list)
    for f in c.faults:
        if f["recovery_s"] is not None:
            by_kind[f["kind"]].append(f["recovery_s"])
    summary = {
        "seed": args.seed, "tasks_acknowledged": len(c.acked),
        "notebooks_acknowledged": len(c.notebooks), "notebooks_served": served,
        "final_states": dict(finals),
        "faults": collections.Counter(f["kind"] for f in c.faults),
        "recovery_s": {k: {"p50": percentile(v, 50), "p99": percentile(v, 99)}
                       for k, v in by_kind.items()},
        "violations": [f"{k}: {m}" for k, m in violations],
        "work_dir": c.work if args.keep else None,
    }
    print(json.dumps(summary, indent=2, default=str))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=2, default=str)
    if violations:
        print(f"FAILED: {len(violations)} violation(s); rerun with --seed {args.seed}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
