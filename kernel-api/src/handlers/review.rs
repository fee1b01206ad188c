//! Create-only review resources, answered from the request instead of stored:
//! `SelfSubjectAccessReview`, `SubjectAccessReview`, `LocalSubjectAccessReview`
//! (authorization.k8s.io/v1: `kubectl auth can-i`) and `SelfSubjectReview`, `TokenReview`
//! (authentication.k8s.io/v1: `kubectl auth whoami`, webhook token authentication).

use http::{Response, StatusCode};
use serde_json::{json, Value};

use super::read::respond;
use super::{Body, Ctx};
use crate::auth::{Attributes, Decision, UserInfo};
use crate::registry::{self, check_type};
use crate::status::{Error, Result};

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn attributes(user: UserInfo, spec: &Value) -> Attributes {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let resource = &spec["resourceAttributes"];
    if resource.is_object() {
        Attributes {
            user,
            verb: s(&resource["verb"]),
            resource_request: true,
            api_group: s(&resource["group"]),
            api_version: s(&resource["version"]),
            resource: s(&resource["resource"]),
            subresource: s(&resource["subresource"]),
            namespace: s(&resource["namespace"]),
            name: s(&resource["name"]),
            path: String::new(),
        }
    } else {
        let non = &spec["nonResourceAttributes"];
        Attributes {
            user,
            verb: s(&non["verb"]),
            path: s(&non["path"]),
            ..Default::default()
        }
    }
}

/// `POST` of a review: fills in `status` and returns the object (201).
pub async fn create(ctx: &Ctx) -> Result<Response<Body>> {
    let mut review = ctx.decode_body()?;
    check_type(&ctx.def, &mut review)?;
    registry::typed_check(&ctx.def, &mut review, false)?;
    let spec = review["spec"].clone();
    let status = match ctx.def.kind.as_str() {
        "SelfSubjectAccessReview" | "SubjectAccessReview" | "LocalSubjectAccessReview" => {
            let user = if ctx.def.kind == "SelfSubjectAccessReview" {
                ctx.user.clone()
            } else {
                UserInfo {
                    name: spec["user"].as_str().unwrap_or_default().to_owned(),
                    uid: spec["uid"].as_str().unwrap_or_default().to_owned(),
                    groups: strings(&spec["groups"]),
                }
            };
            if ctx.def.kind == "LocalSubjectAccessReview" {
                let ns = spec["resourceAttributes"]["namespace"]
                    .as_str()
                    .unwrap_or_default();
                if Some(ns) != ctx.namespace.as_deref() {
                    return Err(Error::bad_request(format!(
                        "spec.resourceAttributes.namespace must match namespace: {}",
                        ctx.namespace.as_deref().unwrap_or_default()
                    )));
                }
            }
            if !spec["resourceAttributes"].is_object() && !spec["nonResourceAttributes"].is_object()
            {
                return Err(Error::Invalid {
                    kind: ctx.def.kind.clone(),
                    group: ctx.def.group.clone(),
                    name: String::new(),
                    causes: vec![crate::status::StatusCause::new(
                        "FieldValueRequired",
                        "spec.resourceAttributes",
                        "Required value: exactly one of nonResourceAttributes or resourceAttributes must be specified",
                    )],
                });
            }
            match ctx
                .shared
                .authorizer
                .authorize(&attributes(user, &spec))
                .await
            {
                Decision::Allow => json!({ "allowed": true }),
                Decision::Deny(reason) => json!({ "allowed": false, "reason": reason }),
            }
        }
        "SelfSubjectReview" => json!({ "userInfo": user_json(&ctx.user) }),
        "TokenReview" => {
            let token = spec["token"].as_str().unwrap_or_default();
            let request = http::Request::builder()
                .header(http::header::AUTHORIZATION, format!("Bearer {token}"))
                .body(())
                .map_err(Error::internal)?;
            let (parts, ()) = request.into_parts();
            match ctx.shared.authenticator.authenticate(&parts).await {
                Ok(Some(user)) if !token.is_empty() => {
                    json!({ "authenticated": true, "user": user_json(&user) })
                }
                Ok(_) | Err(_) => json!({ "authenticated": false, "user": {} }),
            }
        }
        other => return Err(Error::internal(format!("no review handler for {other}"))),
    };
    review["status"] = status;
    if review["metadata"].is_null() {
        review["metadata"] = json!({});
    }
    respond(ctx, StatusCode::CREATED, review)
}

fn user_json(user: &UserInfo) -> Value {
    let mut v = json!({ "username": user.name, "groups": user.groups });
    if !user.uid.is_empty() {
        v["uid"] = json!(user.uid);
    }
    v
}
