//! Shared by the pod benches (`#[path]`-included): create N pods at once and time each until
//! a watch shows it `Running`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{PostParams, WatchEvent, WatchParams};
use kube::Api;

/// Error type of the benches.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Opens a watch on pods labelled `bench=<label>`, then creates `count` pods (`pod(i)`, which
/// must carry that label; 64 creates in flight) and returns, for each pod, the time from just
/// before the first create to the first watch event that shows it `Running` (as
/// `shared/reference/podlat.py` measures upstream). Fails after `timeout`.
pub async fn run_pods(
    api: &Api<Pod>,
    label: &str,
    count: usize,
    pod: impl Fn(usize) -> Pod,
    timeout: Duration,
) -> Result<HashMap<String, Duration>, BoxError> {
    let mut watch = api
        .watch(
            &WatchParams::default().labels(&format!("bench={label}")),
            "0",
        )
        .await?
        .boxed();
    let t0 = Instant::now();
    let creates = futures::stream::iter((0..count).map(pod))
        .map(|p| {
            let api = api.clone();
            async move {
                api.create(&PostParams::default(), &p).await?;
                Ok::<_, BoxError>(())
            }
        })
        .buffer_unordered(64)
        .try_collect::<Vec<()>>();
    let running = async {
        let mut running: HashMap<String, Duration> = HashMap::new();
        while let Some(event) = watch.try_next().await? {
            if let WatchEvent::Added(pod) | WatchEvent::Modified(pod) = event {
                let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
                let name = pod.metadata.name.clone().unwrap_or_default();
                if phase == Some("Running") && !running.contains_key(&name) {
                    running.insert(name, t0.elapsed());
                    if running.len() == count {
                        break;
                    }
                }
            }
        }
        Ok::<_, BoxError>(running)
    };
    let (_, running) = tokio::time::timeout(timeout, futures::future::try_join(creates, running))
        .await
        .map_err(|_| format!("not every pod ran within {timeout:?}"))??;
    Ok(running)
}
