#!/usr/bin/env bash
# The full test suite of kube-in-a-library.
#
# - Sets up what the real-component tests drive, printing one line per thing it installs:
#   as root on Debian/Ubuntu it apt-installs a C compiler if there is none, etcd and etcdctl,
#   the CNI plugins (containernetworking-plugins) and busybox-static, containerd and runc, python3 and python3-venv; it makes a Python venv of its own
#   (${KERNEL_PY_VENV:-${CARGO_TARGET_DIR:-target}/py-venv}) with the `kubernetes` client from
#   PyPI (or, if pip fails, apt-installs Debian's python3-kubernetes) and exports KERNEL_PYTHON.
#   kubectl is not packaged by Debian: it is found through $KUBECTL or PATH, and the script says
#   where to get it when it is missing (it downloads nothing itself).
# - Builds every crate, test, example and bench once.
# - Runs every test with KERNEL_REQUIRE_ALL=1: a test whose component is missing fails instead
#   of skipping. The tests start their own components (etcd, ...) on free loopback ports through
#   kernel-testing and stop exactly what they started.
#
# Environment: KUBECTL (a kubectl binary), KERNEL_PYTHON (a Python that imports `kubernetes`;
# skips the venv), KERNEL_ETCD_BIN (an etcd binary), KERNEL_PY_VENV (where the venv goes).
set -euo pipefail
cd "$(dirname "$0")/.."

notices=()
say() { echo "test-all: $*" >&2; }
# A notice is printed now and again at the end, where it is not lost in the test output.
notice() {
  say "notice: $*"
  notices+=("$*")
}
print_notices() {
  local n
  for n in ${notices[@]+"${notices[@]}"}; do echo "test-all: notice: $n" >&2; done
}
trap print_notices EXIT

can_apt() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }
apt_updated=
# apt_install WHY PACKAGE...: installs the packages if we are root on Debian/Ubuntu.
apt_install() {
  local why=$1 package
  shift
  can_apt || return 1
  for package in "$@"; do say "installing $package (apt-get): $why"; done
  if [ -z "$apt_updated" ]; then
    apt-get update -qq || say "apt-get update failed; trying the install anyway"
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# A C compiler: ring and mimalloc build C code (and rustc links with cc).
if ! command -v cc >/dev/null 2>&1; then
  apt_install "C compiler for ring and mimalloc" gcc libc6-dev ||
    notice "no C compiler (cc) found; install gcc"
fi

# etcd for the EtcdStore tests, etcdctl for examples/store_bench.
if [ -z "${KERNEL_ETCD_BIN:-}" ] && ! command -v etcd >/dev/null 2>&1; then
  if apt_install "etcd for the EtcdStore tests" etcd-server; then
    # The system service the package may start is not ours: the tests start private instances.
    if command -v systemctl >/dev/null 2>&1; then systemctl disable --now etcd >/dev/null 2>&1 || true; fi
  else
    notice "etcd not found: install etcd-server or set KERNEL_ETCD_BIN; the etcd tests will fail"
  fi
fi
if ! command -v etcdctl >/dev/null 2>&1; then
  apt_install "etcdctl for the store benchmark" etcd-client ||
    notice "etcdctl not found (only the store benchmark example uses it)"
fi

# The CNI reference plugins (and busybox for the pods) for kernel-node/tests/cni_network.rs.
if [ ! -x /usr/lib/cni/bridge ] && [ ! -x /opt/cni/bin/bridge ]; then
  apt_install "CNI plugins for the CniNetwork tests" containernetworking-plugins ||
    notice "CNI plugins not found in /usr/lib/cni or /opt/cni/bin; the CNI tests will fail"
fi
if [ ! -x /usr/bin/busybox ]; then
  apt_install "busybox for the CNI pod tests" busybox-static ||
    notice "/usr/bin/busybox not found; the CNI pod tests will fail"
fi
# `ip` (run through nsenter) brings a pod namespace's lo up in kernel-node/tests/port_forward.rs.
if ! command -v ip >/dev/null 2>&1; then
  apt_install "ip for the port-forward network namespace test" iproute2 ||
    notice "ip not found; the port-forward network namespace test will fail"
fi

# containerd and runc for kernel-node/tests/cri_runtime.rs (CriRuntime). The tests start their
# own containerd (own root, socket and CNI config); the system service the package may start
# is not ours.
if [ -z "${KERNEL_CONTAINERD_BIN:-}" ] && ! command -v containerd >/dev/null 2>&1; then
  if apt_install "containerd for the CRI runtime tests" containerd runc; then
    if command -v systemctl >/dev/null 2>&1; then systemctl disable --now containerd >/dev/null 2>&1 || true; fi
  else
    notice "containerd not found: install containerd and runc or set KERNEL_CONTAINERD_BIN; the CRI tests will fail"
  fi
fi
if ! command -v runc >/dev/null 2>&1; then
  apt_install "runc for the CRI runtime tests" runc ||
    notice "runc not found; the CRI tests will fail"
fi

# The Python `kubernetes` client, for the cross-client test (tests/python_client.rs), in a venv
# of our own: Debian's system Python refuses `pip install` outside one (PEP 668).
has_client() { "$1" -c "import kubernetes" >/dev/null 2>&1; }
setup_python() {
  local venv=${KERNEL_PY_VENV:-${CARGO_TARGET_DIR:-target}/py-venv} python
  [ -n "${KERNEL_PYTHON:-}" ] && return # the caller's choice
  case $venv in /*) ;; *) venv=$PWD/$venv ;; esac
  if [ -x "$venv/bin/python" ] && has_client "$venv/bin/python"; then
    KERNEL_PYTHON=$venv/bin/python
    return
  fi
  if ! command -v python3 >/dev/null 2>&1; then
    apt_install "Python for the Python client test" python3 || {
      notice "python3 not found; the Python client test will fail"
      return
    }
  fi
  python=$(command -v python3)
  if has_client "$python"; then
    KERNEL_PYTHON=$python
    return
  fi
  # A venv left half-made (no pip) by an interrupted run is made again.
  if ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
    rm -rf "$venv"
    if ! "$python" -m venv "$venv" >/dev/null 2>&1; then
      # Debian's python3 has no ensurepip without python3-venv (made for /usr/bin/python3).
      rm -rf "$venv"
      if apt_install "venv support for the Python client" python3-venv; then
        [ -x /usr/bin/python3 ] && python=/usr/bin/python3
        "$python" -m venv "$venv" >/dev/null 2>&1 || rm -rf "$venv"
      fi
    fi
  fi
  if [ -x "$venv/bin/python" ]; then
    say "installing kubernetes (pip, in $venv): the Python client"
    if "$venv/bin/python" -m pip install --quiet --disable-pip-version-check kubernetes &&
      has_client "$venv/bin/python"; then
      KERNEL_PYTHON=$venv/bin/python
      return
    fi
    say "pip install kubernetes failed"
  else
    say "could not make a venv at $venv"
  fi
  if apt_install "the Python client, from Debian" python3-kubernetes && has_client /usr/bin/python3; then
    KERNEL_PYTHON=/usr/bin/python3
    return
  fi
  notice "no Python with the kubernetes client; the Python client test will fail"
}
setup_python
if [ -n "${KERNEL_PYTHON:-}" ]; then
  say "Python client: KERNEL_PYTHON=$KERNEL_PYTHON"
  export KERNEL_PYTHON
fi

# kubectl: not packaged by Debian, and the script downloads nothing.
if [ -n "${KUBECTL:-}" ]; then
  if ! command -v "$KUBECTL" >/dev/null 2>&1; then
    notice "KUBECTL=$KUBECTL is not an executable; the kubectl tests will fail"
  fi
elif ! command -v kubectl >/dev/null 2>&1; then
  arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
  notice "kubectl not found in PATH, and Debian/Ubuntu do not package it: get the static binary" \
    "(any kubectl >= 1.32) from https://dl.k8s.io/release/v1.33.0/bin/linux/$arch/kubectl," \
    "then 'install -m 0755 kubectl /usr/local/bin/' or set KUBECTL=/path/to/kubectl;" \
    "until then the kubectl tests fail under KERNEL_REQUIRE_ALL=1"
fi

export KERNEL_REQUIRE_ALL=1
export RUST_BACKTRACE=1

cargo build --workspace --all-targets --all-features
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --all-features --no-fail-fast --failure-output final
else
  say "cargo-nextest not found: running cargo test (cargo install cargo-nextest --locked for nextest)"
  cargo test --workspace --all-features --no-fail-fast
fi
cargo test --workspace --all-features --doc
