//! Test support for kube-in-a-library (not published): starts real components on free loopback
//! ports and cleans them up, so no test repeats that code.
//!
//! - [`EtcdProcess`] / [`etcd()`] / [`etcd_tls()`]: a throwaway single-member etcd on
//!   loopback, plain or TLS with client certificates.
//! - [`ContainerdProcess`] / [`containerd()`]: a throwaway containerd with its own root, socket,
//!   CNI bridge and busybox images, for the CRI runtime's tests.
//! - [`component_missing`] / [`require_all`]: the one way a test skips when a component is not
//!   installed, or fails instead when `KERNEL_REQUIRE_ALL=1` (CI).
//! - [`kubectl()`] / [`python_with`] / [`find_tool`] / [`which`]: the command-line tools tests
//!   drive, found through their environment variable (`$KUBECTL`, `$KERNEL_PYTHON`,
//!   `$KERNEL_ETCD_BIN`) or else `PATH`, never at a hard-coded location.
//! - [`within`] / [`eventually`]: waiting without timing assertions (hang guards only).
//!
//! ```no_run
//! # async fn doc() {
//! let Some(etcd) = kernel_testing::etcd().await else { return };
//! println!("etcd listens on {}", etcd.endpoint());
//! # }
//! ```

mod containerd;
mod etcd;
mod tools;
mod wait;

pub use containerd::{containerd, ContainerdProcess, BUSYBOX_IMAGE, CONTAINERD_ENV, PAUSE_IMAGE};
pub use etcd::{etcd, etcd_tls, EtcdProcess, EtcdTlsFiles, ETCD_ENV};
pub use tools::{find_tool, kubectl, looked_at, python_with, which, KUBECTL_ENV, PYTHON_ENV};
pub use wait::{eventually, within, HANG_GUARD};

/// True when `KERNEL_REQUIRE_ALL=1`: tests must fail instead of skipping when a component is missing.
pub fn require_all() -> bool {
    std::env::var("KERNEL_REQUIRE_ALL").is_ok_and(|v| v == "1")
}

/// Reports that the component `name` is missing (`why` says what was looked for).
///
/// With [`require_all`] this panics, failing the test. Otherwise it prints
/// `notice: skipping <test>: <name> not found (<why>); set KERNEL_REQUIRE_ALL=1 to fail instead`
/// to stderr and returns, and the test should return early.
pub fn component_missing(name: &str, why: &str) {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("test");
    if require_all() {
        panic!("{test}: {name} not found ({why}) and KERNEL_REQUIRE_ALL=1");
    }
    eprintln!(
        "notice: skipping {test}: {name} not found ({why}); set KERNEL_REQUIRE_ALL=1 to fail instead"
    );
}
