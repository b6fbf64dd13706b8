#!/usr/bin/env bash
# Fails when the C++ lines changed since BASE (default: the previous commit, HEAD~1) are not
# formatted as .clang-format says. Only changed lines are checked (git clang-format), so
# older code is reformatted when it is next touched, not in one sweeping commit.
#   scripts/check-format.sh [BASE]     fix: git clang-format BASE
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:-HEAD~1}
if ! git rev-parse --verify -q "$base^{commit}" >/dev/null; then
  echo "check-format: no commit $base; nothing to compare with"
  exit 0
fi
out=$(git clang-format --diff --extensions cc,h "$base" -- 2>&1 || true)
case "$out" in
  *"no modified files to format"*|*"did not modify any files"*|"") echo "check-format: ok"; exit 0 ;;
esac
echo "$out"
echo "check-format: the lines above are not clang-formatted; run: git clang-format $base" >&2
exit 1
