//! The strategy of batch/v1 CronJob (`cronjobs`): upstream's `pkg/registry/batch/cronjob/strategy.go`.

use serde_json::{json, Value};

use crate::defaults::{child, default_template_in, set};
use crate::strategy::Strategy;
use crate::validation::{s, validate_enum, validate_job_spec, validate_nonnegative, FieldError};

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
}
