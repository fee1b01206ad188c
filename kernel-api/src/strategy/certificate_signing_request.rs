//! The strategy of certificates.k8s.io/v1 CertificateSigningRequest (`certificatesigningrequests`;
//! not served by default): upstream's `pkg/registry/certificates/certificates/strategy.go`.

use k8s_openapi::jiff::{SignedDuration, Timestamp};
use serde_json::{json, Value};

use crate::json::{arr, s};
use crate::strategy::{Column, Strategy};
use crate::table::{age, age_col, c, human_duration, name, name_col};

/// The CertificateSigningRequest strategy.
#[derive(Debug)]
pub(crate) struct CertificateSigningRequest;

impl Strategy for CertificateSigningRequest {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            age_col(),
            c(
                "SignerName",
                "string",
                0,
                "Name of the signer that the request is for.",
            ),
            c(
                "Requestor",
                "string",
                0,
                "Name of the user that created the request.",
            ),
            c(
                "RequestedDuration",
                "string",
                0,
                "The requested duration of validity of the certificate.",
            ),
            c(
                "Condition",
                "string",
                0,
                "Conditions applied to the request.",
            ),
        ]
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        let mut conds: Vec<&str> = arr(obj, "/status/conditions")
            .iter()
            .map(|c| s(c, "/type"))
            .collect();
        if conds.is_empty() {
            conds.push("Pending");
        }
        let duration = match obj
            .pointer("/spec/expirationSeconds")
            .and_then(Value::as_i64)
        {
            Some(secs) => human_duration(SignedDuration::from_secs(secs)),
            None => "<none>".to_string(),
        };
        vec![
            name(obj),
            age(obj, now),
            json!(s(obj, "/spec/signerName")),
            json!(s(obj, "/spec/username")),
            json!(duration),
            json!(conds.join(",")),
        ]
    }

    fn selectable_fields(&self) -> &'static [&'static str] {
        &["spec.signerName"]
    }
}
