#!/usr/bin/env bash
# The full test suite of kube-in-a-library.
#
# - As root on Debian/Ubuntu, installs what the real-component tests need (etcd, etcdctl).
# - Builds every crate, test, example and bench once.
# - Runs every test with KERNEL_REQUIRE_ALL=1: a test whose component is missing fails instead
#   of skipping. The tests start their own components (etcd, ...) on free loopback ports through
#   kernel-testing and stop exactly what they started.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  need=()
  command -v etcd >/dev/null 2>&1 || need+=(etcd-server)
  command -v etcdctl >/dev/null 2>&1 || need+=(etcd-client)
  if [ ${#need[@]} -gt 0 ]; then
    echo "installing: ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
  fi
  # The system service the package may start is not ours: the tests start private instances.
  if command -v systemctl >/dev/null 2>&1; then systemctl disable --now etcd >/dev/null 2>&1 || true; fi
fi
# The Python `kubernetes` client, for the cross-client test (tests/python_client.rs).
if command -v python3 >/dev/null 2>&1 && ! python3 -c "import kubernetes" >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check kubernetes
fi
if ! command -v kubectl >/dev/null 2>&1; then
  echo "notice: kubectl not found; the kubectl tests will fail under KERNEL_REQUIRE_ALL=1" >&2
fi

export KERNEL_REQUIRE_ALL=1
export RUST_BACKTRACE=1

cargo build --workspace --all-targets --all-features
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --all-features --no-fail-fast --failure-output final
else
  cargo test --workspace --all-features --no-fail-fast
fi
cargo test --workspace --all-features --doc
