//! Admin kubeconfigs for the running server (what `kubectl --kubeconfig` and
//! `kube::Config::from_custom_kubeconfig` read).

use base64::Engine as _;
use serde_json::json;

/// Renders a kubeconfig for `server` (`https://127.0.0.1:6443`) trusting `ca_pem`, using a
/// bearer `token`, with context `kernel` and default namespace `default`.
pub fn render(server: &str, ca_pem: &str, token: &str) -> String {
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{ "name": "kernel", "cluster": { "server": server, "certificate-authority-data": ca } }],
        "users": [{ "name": "kernel-admin", "user": { "token": token } }],
        "contexts": [{ "name": "kernel", "context": { "cluster": "kernel", "user": "kernel-admin", "namespace": "default" } }],
        "current-context": "kernel",
        "preferences": {},
    });
    serde_saphyr::to_string(&config).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn renders_yaml_kube_can_read() {
        let yaml = super::render(
            "https://127.0.0.1:1",
            "-----BEGIN CERTIFICATE-----\n",
            "t0k",
        );
        let parsed: kube::config::Kubeconfig = serde_saphyr::from_str(&yaml).unwrap();
        assert_eq!(parsed.current_context.as_deref(), Some("kernel"));
    }
}
