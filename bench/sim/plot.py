# Plots of one hai-sim output folder (embedded into hai-sim, which runs it for --plot;
# also runnable by hand: python3 bench/sim/plot.py OUT_DIR). Needs matplotlib (Debian:
# python3-matplotlib). Writes, next to the CSVs it reads:
#   utilisation.png     GPU utilisation over time, one line per policy (daily mean over the
#                       hourly buckets, which are drawn faintly behind it), and below it the
#                       GPUs that waiting jobs ask for (daily mean)
#   queue_delay_cdf.png queueing-delay CDF, one panel per tier, one line per policy
import csv
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {"fifo": "#d62728", "hai": "#1f77b4", "hai-nopreempt": "#2ca02c"}
STYLES = {"hai-nopreempt": "--"}


def save(fig, path):
    """Writes a PNG, as a 256-colour palette image when Pillow is there (a third the size,
    no visible difference for line plots)."""
    fig.savefig(path)
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(path) as im:
        small = im.convert("RGB").convert("P", palette=Image.ADAPTIVE, colors=256)
    small.save(path, optimize=True)


def human(seconds):
    if seconds < 120:
        return "%.0f s" % seconds
    if seconds < 7200:
        return "%.1f min" % (seconds / 60)
    return "%.1f h" % (seconds / 3600)


def main(out):
    with open(os.path.join(out, "summary.json")) as f:
        summary = json.load(f)
    run = summary["run"]
    policies = [p["policy"] for p in summary["policies"]]
    where = "%s on %d nodes / %d GPUs" % (
        os.path.basename(run.get("trace", "trace")), run.get("nodes", 0), run.get("gpus", 0))
    if run.get("scale", 1) != 1:
        where += " (x%g of its size)" % run["scale"]

    # Utilisation over time (top) and the GPUs queued jobs wait for (bottom).
    with open(os.path.join(out, "utilisation.csv")) as f:
        rows = list(csv.DictReader(f))
    fig, (ax, wax) = plt.subplots(2, 1, figsize=(11, 7.2), dpi=110, sharex=True,
                                  gridspec_kw={"height_ratios": [3, 2]})

    def daily(column, bucket_s, scale):
        xs, ys = [], []
        for r in rows:
            if r.get(column, "") != "":
                xs.append(int(r["bucket_start_s"]) / 86400.0)
                ys.append(scale * float(r[column]))
        bucket_days = bucket_s / 86400.0
        per_day = max(1, int(round(1 / bucket_days))) if bucket_days < 1 else 1
        dx, dy = [], []
        for i in range(0, len(ys), per_day):
            chunk = ys[i:i + per_day]
            dx.append(xs[i] + bucket_days * len(chunk) / 2)
            dy.append(sum(chunk) / len(chunk))
        return xs, ys, dx, dy

    for p in summary["policies"]:
        name = p["policy"]
        color = COLORS.get(name)
        style = STYLES.get(name, "-")
        bucket_s = p["utilisation"]["bucket_s"]
        xs, ys, dx, dy = daily(name, bucket_s, 100)
        ax.plot(xs, ys, color=color, alpha=0.18, linewidth=0.6)
        ax.plot(dx, dy, color=color, linewidth=2, linestyle=style,
                label="%s (mean %.1f%% over the submit window)"
                % (name, 100 * p["window_utilisation"]))
        _, _, dx, dy = daily(name + "_waiting_gpus", bucket_s, 1)
        wax.plot(dx, dy, color=color, linewidth=1.6, linestyle=style, label=name)
    ax.set_ylabel("GPUs held (%)")
    ax.set_ylim(0, 105)
    ax.grid(True, alpha=0.3)
    ax.set_title("GPU utilisation over time: " + where)
    ax.legend(loc="upper right", fontsize=9)
    wax.set_ylabel("GPUs asked for by\nwaiting jobs (daily mean)")
    wax.set_xlabel("days since the first submit")
    wax.set_xlim(left=0)
    wax.set_ylim(bottom=0)
    wax.grid(True, alpha=0.3)
    wax.legend(loc="upper right", fontsize=9)
    fig.tight_layout()
    save(fig, os.path.join(out, "utilisation.png"))
    plt.close(fig)

    # Queueing-delay CDF per tier.
    delays = {}  # tier -> policy -> [seconds]
    tier_order = []
    for name in policies:
        with open(os.path.join(out, "jobs-%s.csv" % name)) as f:
            for r in csv.DictReader(f):
                if r["rejected"]:
                    continue
                tier = r["tier"]
                if tier not in tier_order:
                    tier_order.append(tier)
                delays.setdefault(tier, {}).setdefault(name, []).append(
                    int(r["queue_delay_s"]))
    rank = ["EXTREME_HIGH", "VERY_HIGH", "HIGH", "ABOVE_NORMAL", "NORMAL", "BELOW_NORMAL",
            "LOW"]
    tier_order.sort(key=lambda t: rank.index(t) if t in rank else 99)
    fig, axes = plt.subplots(1, max(1, len(tier_order)), figsize=(5.2 * max(1, len(tier_order)),
                                                                   4.6), dpi=110, squeeze=False)
    for ax, tier in zip(axes[0], tier_order):
        top = 1
        lowest = 1.0  # smallest CDF value at 1 s: the y axis starts just below it
        for name in policies:
            values = sorted(delays[tier].get(name, []))
            if not values:
                continue
            n = len(values)
            xs = [max(v, 1) for v in values]
            ys = [(i + 1) / n for i in range(n)]
            top = max(top, xs[-1])
            lowest = min(lowest, sum(1 for x in xs if x <= 1) / n)
            mean = sum(values) / n
            p95 = values[max(0, -(-95 * n // 100) - 1)]
            ax.step(xs, ys, where="post", color=COLORS.get(name), linewidth=1.8,
                    linestyle=STYLES.get(name, "-"),
                    label="%s: mean %s, p95 %s" % (name, human(mean), human(p95)))
        ax.set_xscale("log")
        ax.set_xlim(1, top * 1.5)
        bottom = max(0.0, int(lowest * 10) / 10.0 - 0.1)
        ax.set_ylim(bottom, 1.01)
        ax.set_xlabel("queueing delay, submit to first start (s, log; 0 s drawn at 1 s)")
        ax.set_ylabel("fraction of jobs" + (" (axis starts at %.1f)" % bottom if bottom else ""))
        ax.set_title("%s jobs (%d)" % (tier, len(delays[tier].get(policies[0], []))))
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(loc="lower right", fontsize=9)
    fig.suptitle("Queueing-delay CDF per tier: " + where)
    fig.tight_layout()
    save(fig, os.path.join(out, "queue_delay_cdf.png"))
    plt.close(fig)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: plot.py HAI_SIM_OUT_DIR")
    main(sys.argv[1])
