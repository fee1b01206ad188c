//! Waiting in tests without timing assertions: [`within`] and [`eventually`] only guard against
//! hangs, with a deadline far above what the awaited step needs.

use std::future::Future;
use std::time::Duration;

/// How long [`within`] and [`eventually`] wait before failing the test: a hang guard, not a
/// speed target (the steps tests wait for take milliseconds).
pub const HANG_GUARD: Duration = Duration::from_secs(60);

/// Awaits `f`, failing the test with "`what` did not happen" after [`HANG_GUARD`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let n = kernel_testing::within("the answer", async { 42 }).await;
/// assert_eq!(n, 42);
/// # }
/// ```
pub async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(HANG_GUARD, f)
        .await
        .unwrap_or_else(|_| panic!("{what} did not happen within {HANG_GUARD:?}"))
}

/// Polls `check` every 20 ms until it returns `Some`, failing the test after [`HANG_GUARD`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let mut tries = 0;
/// let found = kernel_testing::eventually("the third try", || {
///     tries += 1;
///     std::future::ready((tries == 3).then_some(tries))
/// })
/// .await;
/// assert_eq!(found, 3);
/// # }
/// ```
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    within(what, async {
        loop {
            if let Some(v) = check().await {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}
