#!/usr/bin/env bash
# Installs the Debian packages hai builds and tests with. Idempotent: on a ready machine it
# only asks dpkg and does no apt work.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git clang-format  # clang-format: scripts/check-format.sh
  clang-14  # scripts/check-thread-safety.sh (clang -Wthread-safety on the lock annotations)
  libclang-rt-14-dev llvm-14  # scripts/fuzz.sh, scripts/sanitize.sh: libFuzzer and the
                              # sanitizer runtimes; llvm-symbolizer-14 for their reports
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libpqxx-dev libhiredis-dev libtomlplusplus-dev libabsl-dev libcli11-dev nlohmann-json3-dev
  libcpp-httplib-dev libcurl4-openssl-dev libssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  postgresql redis-server python3 python3-grpcio python3-protobuf docker-compose procps
  libyaml-cpp-dev openssl nodejs  # Kubernetes runtime (kubeconfig), its tests (TLS, schema)
  curl  # the e2e harness's and tls_e2e_test's HTTPS probes of the side port
  python3-matplotlib  # hai-sim --plot (bench/sim/plot.py)
  jupyter-notebook python3-ipykernel  # Jupyter dev containers (docs/jupyter.md) and their e2e test
  chromium  # the dashboard's browser test (test/browser: puppeteer-core drives it headless)
  slurmctld slurmd munge slurm-client iproute2  # the Slurm runtime's e2e test: a real Slurm
                                                 # (docs/slurm.md); ss for scripts/slurm-up.sh
  prometheus  # promtool: deploy/monitoring rules, their unit tests, haid's /metrics (monitoring_test)
)
# npm (the Kubernetes manifest validation installs kubernetes-models with it): Debian's
# package, unless the installed Node.js distribution already bundles it.
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
