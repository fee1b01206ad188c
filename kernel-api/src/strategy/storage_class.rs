//! The strategy of storage.k8s.io/v1 StorageClass (`storageclasses`): upstream's
//! `pkg/registry/storage/storageclass/strategy.go`.

use k8s_openapi::jiff::Timestamp;
use serde_json::{json, Value};

use crate::json::s;
use crate::strategy::{Column, Strategy};
use crate::table::{age, age_col, c, name_col, string_map};

/// The StorageClass strategy.
#[derive(Debug)]
pub(crate) struct StorageClass;

impl Strategy for StorageClass {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            c("Provisioner", "string", 0, "provisioner indicates the type of the provisioner."),
            c("ReclaimPolicy", "string", 0, "reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes of this storage class."),
            c("VolumeBindingMode", "string", 0, "volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound."),
            c("AllowVolumeExpansion", "string", 0, "allowVolumeExpansion shows whether the storage class allow volume expand."),
            age_col(),
        ]
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        let mut n = s(obj, "/metadata/name").to_string();
        let ann = string_map(obj, "/metadata/annotations");
        if ann
            .get("storageclass.kubernetes.io/is-default-class")
            .map(String::as_str)
            == Some("true")
            || ann
                .get("storageclass.beta.kubernetes.io/is-default-class")
                .map(String::as_str)
                == Some("true")
        {
            n.push_str(" (default)");
        }
        let reclaim = match s(obj, "/reclaimPolicy") {
            "" => "Delete",
            p => p,
        };
        let binding = match s(obj, "/volumeBindingMode") {
            "" => "Immediate",
            m => m,
        };
        let expand = obj
            .get("allowVolumeExpansion")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        vec![
            json!(n),
            json!(s(obj, "/provisioner")),
            json!(reclaim),
            json!(binding),
            json!(expand.to_string()),
            age(obj, now),
        ]
    }
}
