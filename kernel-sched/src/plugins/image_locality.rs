//! ImageLocality: prefers nodes that already have the pod's container images, weighted by how
//! widely each image is spread (so one node holding a popular image does not attract everything).

use std::sync::Arc;

use crate::framework::{
    CycleState, ExtensionPoints, Plugin, PreScorePlugin, ScorePlugin, Status, MAX_NODE_SCORE,
};
use crate::snapshot::{normalized_image_name, Snapshot};
use crate::types::{NodeInfo, PodInfo};

/// The plugin name.
pub const NAME: &str = "ImageLocality";
const MB: i64 = 1024 * 1024;
/// Below this total the score is 0.
pub const MIN_THRESHOLD: i64 = 23 * MB;
/// Per-container size at which the score saturates.
pub const MAX_CONTAINER_THRESHOLD: i64 = 1000 * MB;

/// Image locality.
#[derive(Clone, Copy, Debug, Default)]
pub struct ImageLocality;

impl Plugin for ImageLocality {
    fn name(&self) -> &'static str {
        NAME
    }
    fn extension_points(self: Arc<Self>) -> ExtensionPoints {
        ExtensionPoints::of(self).pre_score().score().into()
    }
}

/// Per image of the pod: normalized name and its spread (`nodes having it / all nodes`).
#[derive(Clone, Debug)]
struct PreScoreState {
    images: Vec<(String, f64)>,
    num_containers: i64,
}

impl PreScorePlugin for ImageLocality {
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _: &[&NodeInfo],
        snapshot: &Snapshot,
    ) -> Status {
        let spec = pod.pod.spec.as_ref();
        let containers = spec.into_iter().flat_map(|s| {
            s.init_containers
                .iter()
                .flatten()
                .chain(s.containers.iter())
        });
        let total = snapshot.num_nodes().max(1) as f64;
        let mut images = Vec::new();
        let mut num_containers = 0;
        for c in containers {
            num_containers += 1;
            let Some(img) = c.image.as_deref() else {
                continue;
            };
            let name = normalized_image_name(img);
            let n = snapshot.image_num_nodes(&name);
            if n > 0 {
                images.push((name, n as f64 / total));
            }
        }
        if images.is_empty() {
            // No node has any of the images: every node scores 0.
            return Status::skip();
        }
        state.write(PreScoreState {
            images,
            num_containers,
        });
        Status::success()
    }
}

impl ScorePlugin for ImageLocality {
    fn score(&self, state: &CycleState, _: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let s = state
            .read::<PreScoreState>()
            .ok_or_else(|| Status::error("ImageLocality: no PreScore state"))?;
        let mut sum = 0i64;
        for (name, spread) in &s.images {
            if let Some(size) = node.image_size(name) {
                sum += (size as f64 * spread) as i64;
            }
        }
        let max = MAX_CONTAINER_THRESHOLD * s.num_containers;
        let sum = sum.clamp(MIN_THRESHOLD, max.max(MIN_THRESHOLD));
        if max <= MIN_THRESHOLD {
            return Ok(0);
        }
        Ok(MAX_NODE_SCORE * (sum - MIN_THRESHOLD) / (max - MIN_THRESHOLD))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::test_util::score;
    use crate::testing::{node, pod};

    #[test]
    fn prefers_nodes_with_large_spread_images() {
        // Upstream image_locality_test "two images spread on two nodes, prefer the larger image one":
        // node1 has gcr.io/40:latest (40MB), node2 gcr.io/300:latest (300MB), pod uses both.
        // score(node1) = (40MB*1/2 - 23MB → clamped to 23MB) → 0;
        // score(node2) = 100 * (150MB - 23MB) / (2000MB - 23MB) = 6.
        let nodes = vec![
            node("n1").image("gcr.io/40:latest", 40 * MB).obj(),
            node("n2").image("gcr.io/300:latest", 300 * MB).obj(),
        ];
        let p = pod("p")
            .image("gcr.io/40")
            .with_spec(|s| {
                let mut c = s.containers[0].clone();
                c.name = "c2".into();
                c.image = Some("gcr.io/300".into());
                s.containers.push(c);
            })
            .obj();
        assert_eq!(score(Arc::new(ImageLocality), p, nodes, vec![]), vec![0, 6]);
    }
}
