//! The strategy of rbac.authorization.k8s.io/v1 RoleBinding (`rolebindings`): upstream's
//! `pkg/registry/rbac/rolebinding/strategy.go`.

use k8s_openapi::jiff::Timestamp;
use serde_json::{json, Value};

use crate::json::{arr, s};
use crate::strategy::{Column, Strategy};
use crate::table::{age, age_col, c, name, name_col};
use kernel_core::names::is_valid_path_segment_name;

/// The RoleBinding strategy.
#[derive(Debug)]
pub(crate) struct RoleBinding;

impl Strategy for RoleBinding {
    /// A path segment name, as upstream requires of RBAC names.
    fn validate_name(&self, name: &str) -> Vec<String> {
        is_valid_path_segment_name(name)
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            c("Role", "string", 0, "RoleRef references a Role in the current namespace or a ClusterRole in the global namespace."),
            age_col(),
            c("Users", "string", 1, "Users in the roleBinding"),
            c("Groups", "string", 1, "Groups in the roleBinding"),
            c("ServiceAccounts", "string", 1, "ServiceAccounts in the roleBinding"),
        ]
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        let mut users = Vec::new();
        let mut groups = Vec::new();
        let mut sas = Vec::new();
        for sub in arr(obj, "/subjects") {
            match s(sub, "/kind") {
                "User" => users.push(s(sub, "/name").to_string()),
                "Group" => groups.push(s(sub, "/name").to_string()),
                "ServiceAccount" => {
                    sas.push(format!("{}:{}", s(sub, "/namespace"), s(sub, "/name")))
                }
                _ => {}
            }
        }
        vec![
            name(obj),
            json!(format!(
                "{}/{}",
                s(obj, "/roleRef/kind"),
                s(obj, "/roleRef/name")
            )),
            age(obj, now),
            json!(users.join(", ")),
            json!(groups.join(", ")),
            json!(sas.join(", ")),
        ]
    }
}
