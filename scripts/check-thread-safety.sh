#!/usr/bin/env bash
# Checks the lock annotations (ABSL_GUARDED_BY, ABSL_EXCLUSIVE_LOCKS_REQUIRED, ...) with
# clang's -Wthread-safety, which GCC (the build compiler) ignores. It parses, without
# building, every translation unit that declares or uses an annotated mutex, with the flags
# of the GCC build in BUILD_DIR (its compile_commands.json), so an unguarded access to a
# guarded member fails here.
#   scripts/check-thread-safety.sh [BUILD_DIR]    (default build; must be configured)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
db="$build/compile_commands.json"
if [[ ! -f $db ]]; then
  echo "check-thread-safety: no $db; configure the build first" >&2
  exit 2
fi
python3 - "$db" <<'PY'
import json, os, re, shlex, subprocess, sys
from concurrent.futures import ThreadPoolExecutor

db = json.load(open(sys.argv[1]))
root = os.getcwd()
annotated = re.compile(r"ABSL_(GUARDED_BY|PT_GUARDED_BY|EXCLUSIVE_LOCKS_REQUIRED|SHARED_LOCKS_REQUIRED|LOCKS_EXCLUDED)")

def text(path):
    try:
        return open(path, errors="replace").read()
    except OSError:
        return ""

# Headers of ours that carry annotations; a unit is checked when it has annotations itself
# or includes one of them directly.
headers = set()
for top in ("scheduler", "manager", "common", "cli"):
    for d, _, files in os.walk(top):
        for f in files:
            p = os.path.join(d, f)
            if f.endswith(".h") and annotated.search(text(p)):
                headers.add(p)

def wanted(src):
    rel = os.path.relpath(src, root)
    if rel.startswith(("build", "test/", "bench/", "..")) or not rel.endswith(".cc"):
        return False
    body = text(src)
    return bool(annotated.search(body)) or any(f'#include "{h}"' in body for h in headers)

# GCC-only options clang does not know (it would warn, and -Werror would fail).
gcc_only = {"-Wno-maybe-uninitialized", "-Wno-restrict"}
jobs = []
for entry in db:
    src = entry["file"]
    if not wanted(src):
        continue
    args = entry.get("arguments") or shlex.split(entry["command"])
    args = [a for a in args[1:] if a not in gcc_only]
    # Drop the output: -fsyntax-only writes nothing.
    cleaned, skip = [], False
    for a in args:
        if skip:
            skip = False
            continue
        if a == "-o":
            skip = True
            continue
        cleaned.append(a)
    cmd = ["clang++-14", *cleaned, "-fsyntax-only", "-Wthread-safety", "-Werror=thread-safety",
           "-Wno-unknown-warning-option"]
    jobs.append((os.path.relpath(src, root), cmd, entry["directory"]))

def run(job):
    rel, cmd, cwd = job
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    return rel, r.returncode, r.stderr

failed = 0
with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
    for rel, rc, err in pool.map(run, jobs):
        if rc != 0:
            failed += 1
            print(f"--- {rel}\n{err}", end="")
print(f"check-thread-safety: {len(jobs)} units, {failed} failed")
sys.exit(1 if failed else 0)
PY
