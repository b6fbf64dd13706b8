#!/usr/bin/env python3
"""hai-sim as a user runs it: a hand-computed trace through the binary, every output file
(JSON, CSVs, PNG plots) read back and checked, quota rows from a file, and bad input
answered with exit code 2 and a message naming the problem.

  cli_test.py HAI_SIM_BINARY
Standard library only (the PNGs are made by hai-sim's embedded matplotlib script; here they
are only parsed).
"""
import csv
import json
import os
import struct
import subprocess
import sys
import tempfile
import unittest

HAI_SIM = None


def run(*args):
    return subprocess.run([HAI_SIM, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True)


class CliTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.d = self.dir.name
        self.cluster = self.write("cluster.csv", "group,nodes,gpus_per_node\ng,2,4\n")

    def tearDown(self):
        self.dir.cleanup()

    def write(self, name, text):
        path = os.path.join(self.d, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_preemption_trace_all_outputs(self):
        # A NORMAL gang on both nodes, then a HIGH job needing one node. Defaults: 30 s
        # grace, checkpoint on notice, 60 s restart overhead.
        trace = self.write("t.csv", "job_id,user,vc,submit_time_s,duration_s,num_gpus,prio\n"
                                    "N,,g,0,1000,8,NORMAL\n"
                                    "H,,g,100,200,4,HIGH\n")
        out = os.path.join(self.d, "out")
        r = run("--trace", trace, "--cluster", self.cluster, "--tier-column", "prio",
                "--out", out, "--plot", "--util-bucket-s", "100")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("HIGH", r.stdout)

        jobs = {p: {row["job_id"]: row for row in csv.DictReader(open(
            os.path.join(out, "jobs-%s.csv" % p)))} for p in ("fifo", "hai")}
        # FIFO: H waits for N. hai: N told at 100, stops at 130 (saved 130 s); H 130 -> 330;
        # N resumes at 330: 60 s reload + 870 s -> 1260; lost 8 GPUs x 60 s.
        self.assertEqual((jobs["fifo"]["H"]["first_start_s"], jobs["fifo"]["H"]["finish_s"]),
                         ("1000", "1200"))
        self.assertEqual((jobs["hai"]["H"]["first_start_s"], jobs["hai"]["H"]["finish_s"]),
                         ("130", "330"))
        self.assertEqual(jobs["hai"]["N"]["finish_s"], "1260")
        self.assertEqual(jobs["hai"]["N"]["suspensions"], "1")
        self.assertEqual(jobs["hai"]["N"]["lost_gpu_s"], "480")
        self.assertEqual(jobs["hai"]["N"]["gpus_allocated"], "8")

        summary = json.load(open(os.path.join(out, "summary.json")))
        self.assertEqual(summary["run"]["gpus"], 8)
        self.assertEqual(summary["run"]["tier_counts"], {"HIGH": 1, "NORMAL": 1})
        self.assertEqual(summary["run"]["cost_model"]["restart_overhead_s"], 60)
        hai = next(p for p in summary["policies"] if p["policy"] == "hai")
        tiers = {t["tier"]: t for t in hai["tiers"]}
        self.assertEqual(list(tiers), ["HIGH", "NORMAL", "ALL"])
        self.assertEqual(tiers["HIGH"]["queue_delay_s"]["mean"], 30)
        self.assertEqual(tiers["HIGH"]["jct_s"]["p99"], 230)
        self.assertEqual(tiers["ALL"]["suspensions"], 1)
        self.assertAlmostEqual(tiers["ALL"]["lost_gpu_hours"], 480 / 3600)
        # Held GPU-seconds: N 8 x 130 + H 4 x 200 + N 8 x 930, over 8 GPUs x 1260 s.
        self.assertAlmostEqual(hai["makespan_utilisation"],
                               (8 * 130 + 4 * 200 + 8 * 930) / (8 * 1260))
        self.assertEqual(hai["utilisation"]["bucket_s"], 100)
        self.assertEqual(len(hai["utilisation"]["values"]), 13)
        self.assertAlmostEqual(hai["utilisation"]["values"][0], 1.0)   # N alone
        self.assertAlmostEqual(hai["utilisation"]["values"][2], 0.5)   # H alone

        rows = list(csv.DictReader(open(os.path.join(out, "summary.csv"))))
        self.assertEqual([(r["policy"], r["tier"]) for r in rows],
                         [("fifo", "HIGH"), ("fifo", "NORMAL"), ("fifo", "ALL"),
                          ("hai", "HIGH"), ("hai", "NORMAL"), ("hai", "ALL")])
        self.assertEqual(rows[3]["queue_delay_mean_s"], "30")
        util = list(csv.DictReader(open(os.path.join(out, "utilisation.csv"))))
        self.assertEqual(list(util[0]), ["bucket_start_s", "fifo", "hai", "fifo_waiting_gpus",
                                         "hai_waiting_gpus"])
        self.assertEqual(util[0]["bucket_start_s"], "0")
        # 100..200 under hai: H waits 100..130 (4 GPUs), N waits 130..200 (8 GPUs).
        self.assertAlmostEqual(float(util[1]["hai_waiting_gpus"]), (4 * 30 + 8 * 70) / 100)
        self.assertAlmostEqual(float(util[1]["hai"]), (8 * 30 + 4 * 70) / 800)
        # Under FIFO H waits 100..1000 for N: 4 GPUs for every bucket in between.
        self.assertAlmostEqual(float(util[5]["fifo_waiting_gpus"]), 4)
        self.assertEqual(util[12]["fifo"], "")  # FIFO ended at 1200

        for name in ("utilisation.png", "queue_delay_cdf.png"):
            with open(os.path.join(out, name), "rb") as f:
                head = f.read(24)
            self.assertEqual(head[:8], b"\x89PNG\r\n\x1a\n", name)
            width, height = struct.unpack(">II", head[16:24])
            self.assertGreaterEqual(width, 800, name)
            self.assertGreaterEqual(height, 400, name)

    def test_quota_file_limits_a_user(self):
        trace = self.write("t.csv", "job_id,user,vc,submit_time_s,duration_s,num_gpus\n"
                                    "A,alice,g,0,100,4\nB,alice,g,0,100,4\nC,bob,g,0,100,4\n")
        quota = self.write("q.csv", "owner_kind,owner,resource,quota\n"
                                    "user,alice,node-g-NORMAL,1\npublic,,node-g-NORMAL,2\n")
        out = os.path.join(self.d, "q")
        r = run("--trace", trace, "--cluster", self.cluster, "--quota", quota,
                "--policies", "hai", "--out", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        jobs = {row["job_id"]: row for row in csv.DictReader(open(
            os.path.join(out, "jobs-hai.csv")))}
        # alice may hold one node: B waits for A although C (bob) takes the other node.
        self.assertEqual(jobs["A"]["first_start_s"], "0")
        self.assertEqual(jobs["C"]["first_start_s"], "0")
        self.assertEqual(jobs["B"]["first_start_s"], "100")

    def test_bad_input_exits_2_with_a_message(self):
        good = self.write("t.csv", "job_id,vc,submit_time_s,duration_s,num_gpus\na,g,0,1,1\n")
        bad = self.write("b.csv", "job_id,vc,submit_time_s,duration_s,num_gpus\na,g,0,x,1\n")
        out = os.path.join(self.d, "o")
        cases = [
            (["--cluster", self.cluster, "--out", out], "--trace"),
            (["--trace", bad, "--cluster", self.cluster, "--out", out],
             "b.csv:2: column duration_s: 'x'"),
            (["--trace", good, "--cluster", self.cluster, "--out", out, "--tier-share", "HI=5"],
             "unknown tier 'HI'"),
            (["--trace", good, "--cluster", self.cluster, "--out", out, "--policies", "lifo"],
             "unknown policy 'lifo'"),
            (["--trace", good, "--cluster", os.path.join(self.d, "none.csv"), "--out", out],
             "cannot open"),
            (["--trace", good, "--cluster", self.cluster, "--out", out, "--scale", "0"],
             "must be in (0, 64]"),
            (["--trace", good, "--cluster", self.cluster, "--out", out,
              "--suspend-grace-s", "-1"], ">= 0"),
        ]
        for args, message in cases:
            r = run(*args)
            self.assertEqual(r.returncode, 2, (args, r.stdout, r.stderr))
            self.assertIn(message, r.stderr, args)


if __name__ == "__main__":
    HAI_SIM = sys.argv.pop(1)
    unittest.main()
