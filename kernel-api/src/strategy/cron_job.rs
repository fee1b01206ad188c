//! The strategy of batch/v1 CronJob (`cronjobs`): upstream's
//! `pkg/registry/batch/cronjob/strategy.go`.

use k8s_openapi::jiff::Timestamp;
use serde_json::{json, Value};

use crate::defaults::{child, default_template_in, set};
use crate::json::{arr, s};
use crate::strategy::{Column, Strategy};
use crate::table::{
    age, age_col, c, container_columns, format_selector, layout_containers, name, name_col,
    or_none, selector_column, translate_timestamp_since,
};
use crate::validation::{validate_enum, validate_job_spec, validate_nonnegative, FieldError};

/// The CronJob strategy.
#[derive(Debug)]
pub(crate) struct CronJob;

impl Strategy for CronJob {
    fn defaults(&self, obj: &mut Value) {
        let Some(o) = obj.as_object_mut() else {
            return;
        };
        let spec = child(o, "spec");
        set(spec, "concurrencyPolicy", json!("Allow"));
        set(spec, "suspend", json!(false));
        set(spec, "successfulJobsHistoryLimit", json!(3));
        set(spec, "failedJobsHistoryLimit", json!(1));
        if let Some(js) = spec
            .get_mut("jobTemplate")
            .and_then(|t| t.get_mut("spec"))
            .and_then(Value::as_object_mut)
        {
            default_template_in(js);
        }
    }

    fn validate(&self, obj: &Value, _old: Option<&Value>) -> Vec<FieldError> {
        let mut errs = Vec::new();
        if s(obj, "/spec/schedule").trim().is_empty() {
            errs.push(FieldError::required("spec.schedule", ""));
        }
        let name = s(obj, "/metadata/name");
        if name.len() > 52 {
            errs.push(FieldError::invalid(
                "metadata.name",
                &Value::String(name.into()),
                "must be no more than 52 characters",
            ));
        }
        validate_enum(
            obj,
            "/spec/concurrencyPolicy",
            "spec.concurrencyPolicy",
            &["Allow", "Forbid", "Replace"],
            &mut errs,
        );
        validate_nonnegative(
            obj,
            "/spec/successfulJobsHistoryLimit",
            "spec.successfulJobsHistoryLimit",
            &mut errs,
        );
        validate_nonnegative(
            obj,
            "/spec/failedJobsHistoryLimit",
            "spec.failedJobsHistoryLimit",
            &mut errs,
        );
        let spec = obj
            .pointer("/spec/jobTemplate/spec")
            .cloned()
            .unwrap_or(Value::Null);
        validate_job_spec(&spec, "spec.jobTemplate.spec", &mut errs);
        errs
    }

    fn columns(&self) -> Vec<Column> {
        let mut v = vec![
            name_col(),
            c(
                "Schedule",
                "string",
                0,
                "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.",
            ),
            c(
                "Timezone",
                "string",
                0,
                "The time zone name for the given schedule.",
            ),
            c(
                "Suspend",
                "boolean",
                0,
                "This flag tells the controller to suspend subsequent executions.",
            ),
            c(
                "Active",
                "integer",
                0,
                "A list of pointers to currently running jobs.",
            ),
            c(
                "Last Schedule",
                "string",
                0,
                "Information when was the last time the job was successfully scheduled.",
            ),
            age_col(),
        ];
        v.extend(container_columns());
        v.push(selector_column());
        v
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        let since =
            |ptr: &str| translate_timestamp_since(obj.pointer(ptr).and_then(Value::as_str), now);
        let (cn, im) = layout_containers(obj, "/spec/jobTemplate/spec/template/spec/containers");
        let suspend = obj.pointer("/spec/suspend").and_then(Value::as_bool);
        let last = if obj.pointer("/status/lastScheduleTime").is_some() {
            since("/status/lastScheduleTime")
        } else {
            "<none>".to_string()
        };
        vec![
            name(obj),
            json!(s(obj, "/spec/schedule")),
            json!(or_none(s(obj, "/spec/timeZone"))),
            json!(suspend.unwrap_or(false)),
            json!(arr(obj, "/status/active").len()),
            json!(last),
            age(obj, now),
            json!(cn),
            json!(im),
            json!(format_selector(obj, "/spec/jobTemplate/spec/selector")),
        ]
    }
}
