//! The strategy of batch/v1 Job (`jobs`): upstream's `pkg/registry/batch/job/strategy.go`.

use serde_json::{json, Map, Value};

use crate::defaults::{child, default_template_in, set};
use crate::strategy::Strategy;

/// The Job strategy.
#[derive(Debug)]
pub(crate) struct Job;

impl Strategy for Job {
    fn defaults(&self, obj: &mut Value) {
        let Some(o) = obj.as_object_mut() else {
            return;
        };
        default_job_spec(child(o, "spec"));
        // SetDefaults_Job: the job takes its template's labels.
        let labels = o
            .get("spec")
            .and_then(|sp| sp.pointer("/template/metadata/labels"))
            .filter(|l| l.is_object())
            .cloned();
        if let Some(labels) = labels {
            let meta = child(o, "metadata");
            if meta
                .get("labels")
                .and_then(Value::as_object)
                .is_none_or(Map::is_empty)
            {
                meta.insert("labels".to_string(), labels);
            }
        }
    }
}

fn default_job_spec(spec: &mut Map<String, Value>) {
    let absent = |m: &Map<String, Value>, k: &str| m.get(k).is_none_or(Value::is_null);
    if absent(spec, "completions") && absent(spec, "parallelism") {
        spec.insert("completions".to_string(), json!(1));
    }
    set(spec, "parallelism", json!(1));
    if absent(spec, "backoffLimitPerIndex") {
        set(spec, "backoffLimit", json!(6));
    } else {
        set(spec, "backoffLimit", json!(i32::MAX));
    }
    set(spec, "completionMode", json!("NonIndexed"));
    set(spec, "suspend", json!(false));
    let policy = if absent(spec, "podFailurePolicy") {
        "TerminatingOrFailed"
    } else {
        "Failed"
    };
    set(spec, "podReplacementPolicy", json!(policy));
    default_template_in(spec);
}
