//! Tokens of projected `serviceAccountToken` sources, requested through TokenRequest
//! (`serviceaccounts/<name>/token`, bound to the pod) and renewed once 80% of their lifetime
//! passed, as upstream's token manager does.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::authentication::v1::{BoundObjectReference, TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Pod, ServiceAccount, ServiceAccountTokenProjection};
use kube::api::PostParams;
use kube::Api;

use crate::kubelet::Shared;

/// A token of a projected `serviceAccountToken` source.
struct Token {
    token: String,
    fetched: Instant,
    lifetime: Duration,
}

/// The tokens of one pod, by `<audience>|<expirationSeconds>`.
#[derive(Default)]
pub(super) struct Tokens(HashMap<String, Token>);

impl Tokens {
    /// A token for the pod's service account; `None` (logged) when TokenRequest fails and
    /// no earlier token is kept.
    pub(super) async fn get(
        &mut self,
        shared: &Shared,
        pod: &Pod,
        namespace: &str,
        source: &ServiceAccountTokenProjection,
    ) -> Option<String> {
        let expiration = source.expiration_seconds.unwrap_or(3600);
        let audience = source.audience.clone().unwrap_or_default();
        let key = format!("{audience}|{expiration}");
        if let Some(t) = self.0.get(&key) {
            if t.fetched.elapsed() < t.lifetime.mul_f64(0.8) {
                return Some(t.token.clone());
            }
        }
        let account = pod
            .spec
            .as_ref()
            .and_then(|s| s.service_account_name.clone())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "default".into());
        let request = TokenRequest {
            spec: TokenRequestSpec {
                audiences: if audience.is_empty() {
                    Vec::new()
                } else {
                    vec![audience]
                },
                expiration_seconds: Some(expiration),
                bound_object_ref: Some(BoundObjectReference {
                    api_version: Some("v1".into()),
                    kind: Some("Pod".into()),
                    name: pod.metadata.name.clone(),
                    uid: pod.metadata.uid.clone(),
                }),
            },
            ..TokenRequest::default()
        };
        let api: Api<ServiceAccount> = Api::namespaced(shared.client.clone(), namespace);
        match api
            .create_token_request(&account, &PostParams::default(), &request)
            .await
        {
            Ok(done) => {
                let token = done.status.map(|s| s.token).unwrap_or_default();
                self.0.insert(
                    key,
                    Token {
                        token: token.clone(),
                        fetched: Instant::now(),
                        lifetime: Duration::from_secs(expiration.max(1) as u64),
                    },
                );
                Some(token)
            }
            Err(e) => {
                tracing::warn!(pod = ?pod.metadata.name, namespace, service_account = %account, error = %e, "TokenRequest failed: the serviceAccountToken source of a projected volume is skipped");
                self.0.get(&key).map(|t| t.token.clone())
            }
        }
    }
}
