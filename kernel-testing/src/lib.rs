//! Test support for kube-in-a-library (not published): starts real components on free loopback
//! ports and cleans them up, so no test repeats that code.

/// True when `KERNEL_REQUIRE_ALL=1`: tests must fail instead of skipping when a component is missing.
pub fn require_all() -> bool {
    std::env::var("KERNEL_REQUIRE_ALL").is_ok_and(|v| v == "1")
}
