//! Container lifecycle hooks, `postStart` and `preStop` (upstream
//! `pkg/kubelet/lifecycle/handlers.go` and `kuberuntime_container.go`'s `runPreStopHook` /
//! `executePostStartHook`), run with the probes' handlers (exec, httpGet, tcpSocket) plus
//! `sleep`.
//!
//! - `postStart` runs right after the container starts; until it returns the container is not
//!   counted as started. If it fails, the kubelet records `FailedPostStartHook` and kills the
//!   container, which the restart policy then restarts, as upstream.
//! - `preStop` runs before a container is stopped (pod deletion, a failed liveness probe),
//!   within the grace period; the container then gets what is left of it (at least 2 s, as
//!   upstream's `minimumGracePeriodInSeconds`). A failure is a `FailedPreStopHook` event and
//!   the stop goes on.

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Container, Pod};

use super::probe::handlers::{Handler, Outcome, Place};
use crate::runtime::Runtime;

/// Which hook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Hook {
    /// `lifecycle.postStart`.
    PostStart,
    /// `lifecycle.preStop`.
    PreStop,
}

/// How long a `postStart` hook may take: upstream sets none; this bounds a hung one.
pub(crate) const POST_START_TIMEOUT: Duration = Duration::from_secs(120);

/// The least a container gets after its `preStop` hook (upstream's
/// `minimumGracePeriodInSeconds`).
pub(crate) const MIN_GRACE_AFTER_HOOK: Duration = Duration::from_secs(2);

/// The spec of the container `name` of `pod` (app, init or ephemeral).
pub(crate) fn container_spec<'a>(pod: &'a Pod, name: &str) -> Option<&'a Container> {
    let spec = pod.spec.as_ref()?;
    spec.containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .find(|c| c.name == name)
}

/// Runs `hook` of `container` (if it has one) in the running container `container_id`,
/// within `timeout`. `Ok(false)`: there is no such hook; `Err`: the hook failed, with
/// upstream's message.
pub(crate) async fn run(
    runtime: &Arc<dyn Runtime>,
    container: &Container,
    container_id: &str,
    pod_ip: Option<&str>,
    hook: Hook,
    timeout: Duration,
) -> Result<bool, String> {
    let lifecycle = container.lifecycle.as_ref();
    let handler = match hook {
        Hook::PostStart => lifecycle.and_then(|l| l.post_start.as_ref()),
        Hook::PreStop => lifecycle.and_then(|l| l.pre_stop.as_ref()),
    };
    let Some(handler) = handler else {
        return Ok(false);
    };
    let handler = Handler::of_hook(handler, container)?;
    let place = Place {
        container_id,
        pod_ip,
    };
    let outcome = tokio::time::timeout(timeout, handler.run(runtime, place, timeout)).await;
    match outcome {
        Ok(Ok(Outcome::Success(_) | Outcome::Warning(_))) => Ok(true),
        Ok(Ok(Outcome::Failure(why))) | Ok(Err(why)) => Err(why),
        Err(_) => Err(format!(
            "hook did not finish within {}",
            kernel_core::duration::format(timeout)
        )),
    }
}

/// Runs the `preStop` hook within `grace` and returns the grace left for the stop itself;
/// `Err` carries the hook's failure (the stop goes on with the grace left).
pub(crate) async fn pre_stop(
    runtime: &Arc<dyn Runtime>,
    container: Option<&Container>,
    container_id: &str,
    pod_ip: Option<&str>,
    grace: Duration,
) -> (Duration, Result<(), String>) {
    let Some(container) = container else {
        return (grace, Ok(()));
    };
    if grace.is_zero() {
        return (grace, Ok(()));
    }
    let started = Instant::now();
    let result = run(
        runtime,
        container,
        container_id,
        pod_ip,
        Hook::PreStop,
        grace,
    )
    .await;
    match result {
        Ok(false) => (grace, Ok(())),
        Ok(true) => (
            grace
                .saturating_sub(started.elapsed())
                .max(MIN_GRACE_AFTER_HOOK),
            Ok(()),
        ),
        Err(e) => (
            grace
                .saturating_sub(started.elapsed())
                .max(MIN_GRACE_AFTER_HOOK),
            Err(e),
        ),
    }
}
