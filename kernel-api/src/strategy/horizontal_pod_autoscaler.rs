//! The strategy of autoscaling/v2 HorizontalPodAutoscaler (`horizontalpodautoscalers`): upstream's
//! `pkg/registry/autoscaling/horizontalpodautoscaler/strategy.go`.

use k8s_openapi::jiff::Timestamp;
use serde_json::{json, Value};

use crate::json::{arr, s};
use crate::strategy::{Column, Strategy};
use crate::table::{age, age_col, c, i, name, name_col};

/// The HorizontalPodAutoscaler strategy.
#[derive(Debug)]
pub(crate) struct HorizontalPodAutoscaler;

impl Strategy for HorizontalPodAutoscaler {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            c("Reference", "string", 0, "reference to scaled resource; horizontal pod autoscaler will learn the current resource consumption and will set the desired number of pods by using its Scale subresource."),
            c("Targets", "string", 0, "metrics contains the specifications for which to use to calculate the desired replica count."),
            c("MinPods", "string", 0, "minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down."),
            c("MaxPods", "integer", 0, "maxReplicas is the upper limit for the number of pods that can be set by the autoscaler."),
            c("Replicas", "integer", 0, "currentReplicas is current number of replicas of pods managed by this autoscaler."),
            age_col(),
        ]
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        let min = match obj.pointer("/spec/minReplicas").and_then(Value::as_i64) {
            Some(n) => n.to_string(),
            None => "<unset>".to_string(),
        };
        vec![
            name(obj),
            json!(format!(
                "{}/{}",
                s(obj, "/spec/scaleTargetRef/kind"),
                s(obj, "/spec/scaleTargetRef/name")
            )),
            json!(hpa_targets(obj)),
            json!(min),
            json!(i(obj, "/spec/maxReplicas")),
            json!(i(obj, "/status/currentReplicas")),
            age(obj, now),
        ]
    }
}

/// The HPA `Targets` cell: `cpu: 40%/80%` per resource metric (current
/// `<unknown>` until reported), at most two then ` + N more...`.
fn hpa_targets(obj: &Value) -> String {
    let metrics = arr(obj, "/spec/metrics");
    if metrics.is_empty() {
        return "<none>".to_string();
    }
    let current = arr(obj, "/status/currentMetrics");
    let mut out: Vec<String> = Vec::new();
    for m in metrics {
        let ty = s(m, "/type");
        let key = match ty {
            "Resource" => "/resource",
            "ContainerResource" => "/containerResource",
            "Pods" => "/pods",
            "Object" => "/object",
            "External" => "/external",
            _ => "",
        };
        let spec = m.pointer(key).unwrap_or(&Value::Null);
        let target = spec.get("target").unwrap_or(&Value::Null);
        let cur = current
            .iter()
            .find(|c| s(c, "/type") == ty && c.pointer(&format!("{key}/name")) == spec.get("name"))
            .and_then(|c| c.pointer(&format!("{key}/current")));
        let (cur_s, tgt_s) = if let Some(u) = target.get("averageUtilization") {
            (
                cur.and_then(|c| c.get("averageUtilization"))
                    .map(|v| format!("{v}%"))
                    .unwrap_or_else(|| "<unknown>".to_string()),
                format!("{u}%"),
            )
        } else {
            let field = if target.get("averageValue").is_some() {
                "averageValue"
            } else {
                "value"
            };
            (
                cur.and_then(|c| c.get(field))
                    .and_then(Value::as_str)
                    .unwrap_or("<unknown>")
                    .to_string(),
                target
                    .get(field)
                    .and_then(Value::as_str)
                    .unwrap_or("<unknown>")
                    .to_string(),
            )
        };
        let label = spec.get("name").and_then(Value::as_str).unwrap_or(ty);
        out.push(format!("{label}: {cur_s}/{tgt_s}"));
    }
    let n = out.len();
    if n > 2 {
        out.truncate(2);
        format!("{} + {} more...", out.join(", "), n - 2)
    } else {
        out.join(", ")
    }
}
