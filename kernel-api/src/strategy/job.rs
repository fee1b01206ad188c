//! The strategy of batch/v1 Job (`jobs`): upstream's `pkg/registry/batch/job/strategy.go`.

use k8s_openapi::jiff::Timestamp;
use serde_json::{json, Map, Value};

use crate::defaults::{child, default_template_in, set};
use crate::json::{field_at, int_at};
use crate::strategy::{Column, Strategy};
use crate::table::{
    age, age_col, c, condition_true, container_columns, format_selector, human_duration, i,
    layout_containers, name, name_col, selector_column,
};
use crate::validation::{
    check_selector_matches_template, get, immutable, validate_job_spec, FieldError,
};

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

    fn validate(&self, obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
        let mut errs = Vec::new();
        let spec = obj.get("spec").unwrap_or(&Value::Null);
        validate_job_spec(spec, "spec", &mut errs);
        if let Some(sel) = get(obj, "/spec/selector") {
            if obj.pointer("/spec/manualSelector").and_then(Value::as_bool) == Some(true)
                || old.is_none()
            {
                check_selector_matches_template(obj, sel, &mut errs);
            }
        }
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldError> {
        let mut out = Vec::new();
        let errs = &mut out;
        immutable(new, old, "/spec/selector", "spec.selector", errs);
        immutable(new, old, "/spec/template", "spec.template", errs);
        immutable(
            new,
            old,
            "/spec/completionMode",
            "spec.completionMode",
            errs,
        );
        out
    }

    fn columns(&self) -> Vec<Column> {
        let mut v = vec![
            name_col(),
            c("Status", "string", 0, "Status of the job."),
            c(
                "Completions",
                "string",
                0,
                "The desired number of successfully finished pods the job should be run with.",
            ),
            c(
                "Duration",
                "string",
                0,
                "Time required to complete the job.",
            ),
            age_col(),
        ];
        v.extend(container_columns());
        v.push(selector_column());
        v
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        job_cells(obj, now)
    }

    fn selectable_fields(&self) -> &'static [&'static str] {
        &["status.successful"]
    }

    fn field_value(&self, obj: &Value, field: &str) -> String {
        match field {
            "status.successful" => int_at(obj, "/status/succeeded"),
            f => field_at(obj, f),
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

fn job_cells(job: &Value, now: Timestamp) -> Vec<Value> {
    let conds = "/status/conditions";
    let status = if condition_true(job, conds, "Complete") {
        "Complete"
    } else if condition_true(job, conds, "Failed") {
        "Failed"
    } else if job.pointer("/metadata/deletionTimestamp").is_some() {
        "Terminating"
    } else if condition_true(job, conds, "Suspended") {
        "Suspended"
    } else if condition_true(job, conds, "FailureTarget") {
        "FailureTarget"
    } else if condition_true(job, conds, "SuccessCriteriaMet") {
        "SuccessCriteriaMet"
    } else {
        "Running"
    };
    let succeeded = i(job, "/status/succeeded");
    let completions = match job.pointer("/spec/completions").and_then(Value::as_i64) {
        Some(c) => format!("{succeeded}/{c}"),
        None => {
            let p = job
                .pointer("/spec/parallelism")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            if p > 1 {
                format!("{succeeded}/1 of {p}")
            } else {
                format!("{succeeded}/1")
            }
        }
    };
    let ts = |p: &str| {
        job.pointer(p)
            .and_then(Value::as_str)
            .and_then(|t| t.parse::<Timestamp>().ok())
    };
    let duration = match (ts("/status/startTime"), ts("/status/completionTime")) {
        (Some(start), Some(end)) => human_duration(end.duration_since(start)),
        (Some(start), None) => human_duration(now.duration_since(start)),
        _ => String::new(),
    };
    let (cn, im) = layout_containers(job, "/spec/template/spec/containers");
    vec![
        name(job),
        json!(status),
        json!(completions),
        json!(duration),
        age(job, now),
        json!(cn),
        json!(im),
        json!(format_selector(job, "/spec/selector")),
    ]
}
