//! DefaultBinder: binds through the `pods/binding` subresource with a core/v1 `Binding`.

use std::sync::Arc;

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{Binding, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, PostParams};

use crate::framework::{BindPlugin, CycleState, ExtensionPoints, Plugin, Status};
use crate::types::PodInfo;

/// The plugin name.
pub const NAME: &str = "DefaultBinder";

/// Binds with `POST pods/<name>/binding`. Without a client (the pure algorithm) it skips, so
/// the caller decides what binding means.
#[derive(Clone, Default)]
pub struct DefaultBinder {
    client: Option<kube::Client>,
}

impl std::fmt::Debug for DefaultBinder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DefaultBinder")
            .field("client", &self.client.is_some())
            .finish()
    }
}

impl DefaultBinder {
    /// Builds the binder.
    pub fn new(client: Option<kube::Client>) -> Self {
        DefaultBinder { client }
    }
}

/// The `Binding` object for `pod` → `node`.
pub fn binding_for(pod: &PodInfo, node: &str) -> Binding {
    Binding {
        metadata: ObjectMeta {
            name: Some(pod.name.clone()),
            namespace: Some(pod.namespace.clone()),
            uid: (!pod.uid.is_empty()).then(|| pod.uid.clone()),
            ..Default::default()
        },
        target: ObjectReference {
            kind: Some("Node".into()),
            name: Some(node.into()),
            ..Default::default()
        },
    }
}

impl Plugin for DefaultBinder {
    fn name(&self) -> &'static str {
        NAME
    }
    fn extension_points(self: Arc<Self>) -> ExtensionPoints {
        ExtensionPoints::of(self).bind().into()
    }
}

impl BindPlugin for DefaultBinder {
    fn bind<'a>(
        &'a self,
        _: &'a CycleState,
        pod: &'a PodInfo,
        node: &'a str,
    ) -> BoxFuture<'a, Status> {
        Box::pin(async move {
            let Some(client) = self.client.clone() else {
                return Status::skip();
            };
            let api: Api<Pod> = Api::namespaced(client, &pod.namespace);
            let binding = binding_for(pod, node);
            match api
                .create_subresource::<Binding, serde_json::Value>(
                    "binding",
                    &pod.name,
                    &PostParams::default(),
                    &binding,
                )
                .await
            {
                Ok(_) => Status::success(),
                Err(e) => Status::error(format!("binding rejected: {e}")),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::pod;

    #[test]
    fn binding_targets_the_node() {
        let pi = PodInfo::new(pod("web").uid("u").obj());
        let b = binding_for(&pi, "n7");
        assert_eq!(b.target.kind.as_deref(), Some("Node"));
        assert_eq!(b.target.name.as_deref(), Some("n7"));
        assert_eq!(b.metadata.name.as_deref(), Some("web"));
        assert_eq!(b.metadata.namespace.as_deref(), Some("default"));
        assert_eq!(b.metadata.uid.as_deref(), Some("u"));
    }
}
