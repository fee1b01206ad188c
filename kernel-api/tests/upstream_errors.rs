//! Bad input and edge cases answered exactly as kube-apiserver v1.33 answers them: status code,
//! `reason`, `message`, `details.kind`/`name`/`group` and `details.causes[]`. Each expectation is
//! taken from upstream's code (k8s.io/apiserver, k8s.io/apimachinery, apiextensions-apiserver,
//! pkg/apis/core/validation), cited next to the test.

mod common;

use std::time::Duration;

use common::{call, cm, CMS};
use http::{Method, StatusCode};
use kernel_api::ApiServer;
use serde_json::{json, Value};

const PODS: &str = "/api/v1/namespaces/default/pods";
const CRDS: &str = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";

async fn server() -> ApiServer {
    ApiServer::builder().build().await.unwrap()
}

async fn send(server: &ApiServer, method: Method, uri: &str, body: &Value) -> (StatusCode, Value) {
    let ct = if method == Method::PATCH {
        "application/merge-patch+json"
    } else {
        "application/json"
    };
    call(server, method, uri, ct, serde_json::to_vec(body).unwrap()).await
}

async fn get(server: &ApiServer, uri: &str) -> (StatusCode, Value) {
    call(server, Method::GET, uri, "", "").await
}

async fn create_cm(server: &ApiServer, name: &str) -> Value {
    let (code, obj) = send(server, Method::POST, CMS, &cm(name)).await;
    assert_eq!(code, StatusCode::CREATED, "{obj}");
    obj
}

/// A `Status` body: code, reason and message.
#[track_caller]
fn assert_status(got: &(StatusCode, Value), code: u16, reason: &str, message: &str) {
    let (status, body) = got;
    assert_eq!(status.as_u16(), code, "{body}");
    assert_eq!(body["kind"], "Status", "{body}");
    assert_eq!(body["status"], "Failure", "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["reason"], reason, "{body}");
    assert_eq!(body["message"], message, "{body}");
}

/// `details` exactly as upstream renders it.
#[track_caller]
fn assert_details(got: &(StatusCode, Value), details: Value) {
    assert_eq!(got.1["details"], details, "{}", got.1);
}

/// A 422 on a request option kind (`CreateOptions.meta.k8s.io "" is invalid: …`) with one cause.
#[track_caller]
fn assert_options_invalid(
    got: &(StatusCode, Value),
    kind: &str,
    field: &str,
    reason: &str,
    cause: &str,
) {
    assert_status(
        got,
        422,
        "Invalid",
        &format!("{kind}.meta.k8s.io \"\" is invalid: {field}: {cause}"),
    );
    assert_details(
        got,
        json!({"kind": kind, "group": "meta.k8s.io",
               "causes": [{"reason": reason, "message": cause, "field": field}]}),
    );
}

// ===== query options (k8s.io/apimachinery/pkg/apis/meta/v1/validation) =====

/// ValidateCreateOptions → ValidateDryRun: `field.NotSupported(dryRun, []string{"Foo"}, ["All"])`.
#[tokio::test]
async fn create_with_an_unknown_dry_run_value() {
    let s = server().await;
    let got = send(&s, Method::POST, &format!("{CMS}?dryRun=Foo"), &cm("a")).await;
    assert_options_invalid(
        &got,
        "CreateOptions",
        "dryRun",
        "FieldValueNotSupported",
        "Unsupported value: []string{\"Foo\"}: supported values: \"All\"",
    );
    assert_eq!(get(&s, &format!("{CMS}/a")).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn update_with_an_unknown_dry_run_value() {
    let s = server().await;
    create_cm(&s, "a").await;
    let got = send(&s, Method::PUT, &format!("{CMS}/a?dryRun=Foo"), &cm("a")).await;
    assert_options_invalid(
        &got,
        "UpdateOptions",
        "dryRun",
        "FieldValueNotSupported",
        "Unsupported value: []string{\"Foo\"}: supported values: \"All\"",
    );
}

#[tokio::test]
async fn patch_with_an_unknown_dry_run_value() {
    let s = server().await;
    create_cm(&s, "a").await;
    let got = send(
        &s,
        Method::PATCH,
        &format!("{CMS}/a?dryRun=Foo"),
        &json!({}),
    )
    .await;
    assert_options_invalid(
        &got,
        "PatchOptions",
        "dryRun",
        "FieldValueNotSupported",
        "Unsupported value: []string{\"Foo\"}: supported values: \"All\"",
    );
}

#[tokio::test]
async fn delete_with_an_unknown_dry_run_value() {
    let s = server().await;
    create_cm(&s, "a").await;
    let got = call(&s, Method::DELETE, &format!("{CMS}/a?dryRun=Foo"), "", "").await;
    assert_options_invalid(
        &got,
        "DeleteOptions",
        "dryRun",
        "FieldValueNotSupported",
        "Unsupported value: []string{\"Foo\"}: supported values: \"All\"",
    );
    assert_eq!(get(&s, &format!("{CMS}/a")).await.0, StatusCode::OK);
}

/// ValidateDeleteOptions: the propagation policy, with `"nil"` among the supported values.
#[tokio::test]
async fn delete_with_an_unknown_propagation_policy() {
    let s = server().await;
    create_cm(&s, "a").await;
    let got = call(
        &s,
        Method::DELETE,
        &format!("{CMS}/a?propagationPolicy=Sometimes"),
        "",
        "",
    )
    .await;
    assert_options_invalid(
        &got,
        "DeleteOptions",
        "propagationPolicy",
        "FieldValueNotSupported",
        "Unsupported value: \"Sometimes\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\"",
    );
}

/// ValidateFieldValidation: the sorted set `"", "Ignore", "Strict", "Warn"`.
#[tokio::test]
async fn create_with_an_unknown_field_validation_value() {
    let s = server().await;
    let got = send(
        &s,
        Method::POST,
        &format!("{CMS}?fieldValidation=Foo"),
        &cm("a"),
    )
    .await;
    assert_options_invalid(
        &got,
        "CreateOptions",
        "fieldValidation",
        "FieldValueNotSupported",
        "Unsupported value: \"Foo\": supported values: \"\", \"Ignore\", \"Strict\", \"Warn\"",
    );
}

/// ValidatePatchOptions: apply needs a field manager.
#[tokio::test]
async fn apply_without_a_field_manager() {
    let s = server().await;
    let got = call(
        &s,
        Method::PATCH,
        &format!("{CMS}/a"),
        "application/apply-patch+yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n",
    )
    .await;
    assert_options_invalid(
        &got,
        "PatchOptions",
        "fieldManager",
        "FieldValueRequired",
        "Required value: is required for apply patch",
    );
}

/// ValidatePatchOptions: `force` only for apply.
#[tokio::test]
async fn force_on_a_merge_patch() {
    let s = server().await;
    create_cm(&s, "a").await;
    let got = send(
        &s,
        Method::PATCH,
        &format!("{CMS}/a?force=true"),
        &json!({}),
    )
    .await;
    assert_options_invalid(
        &got,
        "PatchOptions",
        "force",
        "FieldValueForbidden",
        "Forbidden: may not be specified for non-apply patch",
    );
}

/// ValidateListOptions (internalversion/validation).
#[tokio::test]
async fn resource_version_match_without_resource_version() {
    let s = server().await;
    let got = get(&s, &format!("{CMS}?resourceVersionMatch=NotOlderThan")).await;
    assert_options_invalid(
        &got,
        "ListOptions",
        "resourceVersionMatch",
        "FieldValueForbidden",
        "Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided",
    );
}

#[tokio::test]
async fn resource_version_match_exact_with_resource_version_zero() {
    let s = server().await;
    let got = get(
        &s,
        &format!("{CMS}?resourceVersionMatch=Exact&resourceVersion=0"),
    )
    .await;
    assert_options_invalid(
        &got,
        "ListOptions",
        "resourceVersionMatch",
        "FieldValueForbidden",
        "Forbidden: resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
    );
}

#[tokio::test]
async fn unknown_resource_version_match() {
    let s = server().await;
    let got = get(
        &s,
        &format!("{CMS}?resourceVersionMatch=Newest&resourceVersion=1"),
    )
    .await;
    assert_options_invalid(
        &got,
        "ListOptions",
        "resourceVersionMatch",
        "FieldValueNotSupported",
        "Unsupported value: \"Newest\": supported values: \"Exact\", \"NotOlderThan\", \"\"",
    );
}

#[tokio::test]
async fn resource_version_match_with_continue() {
    let s = server().await;
    let got = get(
        &s,
        &format!("{CMS}?resourceVersionMatch=NotOlderThan&resourceVersion=1&continue=abc"),
    )
    .await;
    assert_options_invalid(
        &got,
        "ListOptions",
        "resourceVersionMatch",
        "FieldValueForbidden",
        "Forbidden: resourceVersionMatch is forbidden when continue is provided",
    );
}

#[tokio::test]
async fn send_initial_events_on_a_list() {
    let s = server().await;
    let got = get(&s, &format!("{CMS}?sendInitialEvents=true")).await;
    assert_options_invalid(
        &got,
        "ListOptions",
        "sendInitialEvents",
        "FieldValueForbidden",
        "Forbidden: sendInitialEvents is forbidden for list",
    );
}

/// validateWatchOptions (as with the WatchList feature enabled, which this server implements).
#[tokio::test]
async fn send_initial_events_without_resource_version_match() {
    let s = server().await;
    let got = get(&s, &format!("{CMS}?watch=1&sendInitialEvents=true")).await;
    assert_options_invalid(
        &got,
        "ListOptions",
        "resourceVersionMatch",
        "FieldValueForbidden",
        "Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
    );
}

#[tokio::test]
async fn resource_version_match_on_a_watch_without_send_initial_events() {
    let s = server().await;
    let got = get(
        &s,
        &format!("{CMS}?watch=1&resourceVersionMatch=NotOlderThan&resourceVersion=1"),
    )
    .await;
    assert_options_invalid(
        &got,
        "ListOptions",
        "resourceVersionMatch",
        "FieldValueForbidden",
        "Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
    );
}

/// storage.ValidateListOptions: `apierrors.NewBadRequest("invalid resource version: …")` around
/// APIObjectVersioner.ParseResourceVersion's field error.
#[tokio::test]
async fn list_with_a_non_numeric_resource_version() {
    let s = server().await;
    let got = get(&s, &format!("{CMS}?resourceVersion=abc")).await;
    assert_status(
        &got,
        400,
        "BadRequest",
        "invalid resource version: resourceVersion: Invalid value: \"abc\": strconv.ParseUint: parsing \"abc\": invalid syntax",
    );
}

/// The cacher's Get and Watch return ParseResourceVersion's storage.InvalidError as is; it is no
/// APIStatus, so kube-apiserver answers 500 with no reason and the error text. This server keeps
/// upstream's text but answers 400 BadRequest: malformed input never yields a 500 here
/// (protocol.rs `malformed_input_never_yields_500`).
#[tokio::test]
async fn get_with_a_non_numeric_resource_version() {
    let s = server().await;
    create_cm(&s, "a").await;
    let got = get(&s, &format!("{CMS}/a?resourceVersion=abc")).await;
    assert_status(
        &got,
        400,
        "BadRequest",
        "resourceVersion: Invalid value: \"abc\": strconv.ParseUint: parsing \"abc\": invalid syntax",
    );
    assert!(got.1.get("details").is_none(), "{}", got.1);
}

#[tokio::test]
async fn watch_with_a_non_numeric_resource_version() {
    let s = server().await;
    let got = get(&s, &format!("{CMS}?watch=1&resourceVersion=12x")).await;
    assert_status(
        &got,
        400,
        "BadRequest",
        "resourceVersion: Invalid value: \"12x\": strconv.ParseUint: parsing \"12x\": invalid syntax",
    );
}

/// runtime.DefaultMetaV1FieldSelectorConversion (kinds without their own field label function).
#[tokio::test]
async fn field_selector_on_an_unsupported_configmap_field() {
    let s = server().await;
    let got = get(&s, &format!("{CMS}?fieldSelector=data.a%3Db")).await;
    assert_status(
        &got,
        400,
        "BadRequest",
        "\"data.a\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"",
    );
}

/// pkg/apis/core/v1/conversion.go: the Pod field label function.
#[tokio::test]
async fn field_selector_on_an_unsupported_pod_field() {
    let s = server().await;
    let got = get(
        &s,
        &format!("{PODS}?fieldSelector=spec.nodeName%3Dn,spec.priority%3D1"),
    )
    .await;
    assert_status(
        &got,
        400,
        "BadRequest",
        "field label not supported: spec.priority",
    );
    // The same check guards watches.
    let got = get(
        &s,
        &format!("{PODS}?watch=1&fieldSelector=spec.priority%3D1"),
    )
    .await;
    assert_status(
        &got,
        400,
        "BadRequest",
        "field label not supported: spec.priority",
    );
}

/// The strict JSON decoder (sigs.k8s.io/json) reports duplicate fields by path; the create
/// handler wraps strict errors in transformDecodeError.
#[tokio::test]
async fn strict_field_validation_with_a_duplicate_field() {
    let s = server().await;
    let body = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","name":"b"},"data":{"k":"1","k":"2"},"extra":1}"#;
    let got = call(
        &s,
        Method::POST,
        &format!("{CMS}?fieldValidation=Strict"),
        "application/json",
        body,
    )
    .await;
    assert_status(
        &got,
        400,
        "BadRequest",
        "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: strict decoding error: duplicate field \"metadata.name\", duplicate field \"data.k\", unknown field \"extra\"",
    );
    // Without Strict the last value wins, as in Go.
    let got = call(&s, Method::POST, CMS, "application/json", body).await;
    assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
    assert_eq!(got.1["metadata"]["name"], "b");
    assert_eq!(got.1["data"]["k"], "2");
}

// ===== verbs a path does not serve (go-restful's route selection, serviceErrorHandler) =====

/// go-restful's 405, rendered by NewGenericServerResponse: empty `details`.
#[track_caller]
fn assert_method_not_allowed(got: &(StatusCode, Value)) {
    assert_status(
        got,
        405,
        "MethodNotAllowed",
        "the server does not allow this method on the requested resource",
    );
    assert_details(got, json!({}));
}

#[tokio::test]
async fn put_on_a_collection() {
    let s = server().await;
    assert_method_not_allowed(&send(&s, Method::PUT, CMS, &cm("a")).await);
}

#[tokio::test]
async fn patch_on_a_collection() {
    let s = server().await;
    assert_method_not_allowed(&send(&s, Method::PATCH, CMS, &json!({})).await);
}

#[tokio::test]
async fn post_on_a_named_object() {
    let s = server().await;
    assert_method_not_allowed(&send(&s, Method::POST, &format!("{CMS}/a"), &cm("a")).await);
}

#[tokio::test]
async fn delete_on_the_status_subresource() {
    let s = server().await;
    let got = call(&s, Method::DELETE, &format!("{PODS}/p/status"), "", "").await;
    assert_method_not_allowed(&got);
}

#[tokio::test]
async fn get_on_the_binding_subresource() {
    let s = server().await;
    assert_method_not_allowed(&get(&s, &format!("{PODS}/p/binding")).await);
}

/// The namespace REST storage has no DeleteCollection, so no DELETE route on the collection.
#[tokio::test]
async fn deletecollection_of_namespaces() {
    let s = server().await;
    let got = call(&s, Method::DELETE, "/api/v1/namespaces", "", "").await;
    assert_method_not_allowed(&got);
    assert_eq!(
        get(&s, "/api/v1/namespaces/default").await.0,
        StatusCode::OK
    );
    // Discovery says so, as upstream's does: routing and discovery read one verb list.
    let (_, discovery) = get(&s, "/api/v1").await;
    let verbs = |plural: &str| {
        discovery["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == plural)
            .unwrap()["verbs"]
            .clone()
    };
    assert_eq!(
        verbs("namespaces"),
        json!(["create", "delete", "get", "list", "patch", "update", "watch"])
    );
    assert!(verbs("configmaps")
        .as_array()
        .unwrap()
        .contains(&json!("deletecollection")));
}

/// go-restful's 415 for a content type a PATCH route does not consume (with a body).
#[tokio::test]
async fn unknown_patch_content_type_on_a_builtin() {
    let s = server().await;
    create_cm(&s, "a").await;
    let got = call(&s, Method::PATCH, &format!("{CMS}/a"), "text/plain", "{}").await;
    assert_status(
        &got,
        415,
        "UnsupportedMediaType",
        "415: Unsupported Media Type",
    );
    assert_details(&got, json!({}));
}

/// The create handler's NegotiateInputSerializer: the serializers of the built-in types.
#[tokio::test]
async fn unknown_create_content_type_on_a_builtin() {
    let s = server().await;
    let got = call(&s, Method::POST, CMS, "text/plain", "{}").await;
    assert_status(
        &got,
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf",
    );
    assert!(got.1.get("details").is_none(), "{}", got.1);
}

fn widget_crd(name: &str) -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": name},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "kind": "Widget"},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "properties": {"size": {"type": "integer"}}}
                }}}
            }]
        }
    })
}

const WIDGETS: &str = "/apis/example.com/v1/namespaces/default/widgets";

async fn establish_widgets(s: &ApiServer) {
    let (code, body) = send(s, Method::POST, CRDS, &widget_crd("widgets.example.com")).await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    for _ in 0..200 {
        if get(s, WIDGETS).await.0 == StatusCode::OK {
            let w = json!({"apiVersion": "example.com/v1", "kind": "Widget",
                           "metadata": {"name": "w"}, "spec": {"size": 1}});
            let (code, body) = send(s, Method::POST, WIDGETS, &w).await;
            assert_eq!(code, StatusCode::CREATED, "{body}");
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("widgets never served");
}

/// The CRD handler hands PatchResource the patch types without strategic merge patch;
/// PatchResource answers NewUnsupportedMediaTypeError(patchTypes).
#[tokio::test]
async fn strategic_merge_patch_on_a_custom_resource() {
    let s = server().await;
    establish_widgets(&s).await;
    let got = call(
        &s,
        Method::PATCH,
        &format!("{WIDGETS}/w"),
        "application/strategic-merge-patch+json",
        r#"{"spec":{"size":2}}"#,
    )
    .await;
    let message = "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml";
    assert_status(&got, 415, "UnsupportedMediaType", message);
    assert!(got.1.get("details").is_none(), "{}", got.1);
    // Any other unknown type gets the same answer on a custom resource.
    let got = call(
        &s,
        Method::PATCH,
        &format!("{WIDGETS}/w"),
        "text/plain",
        "{}",
    )
    .await;
    assert_status(&got, 415, "UnsupportedMediaType", message);
}

// ===== preconditions =====

/// defaultUpdatedObjectInfo.Preconditions → etcd3 GuaranteedUpdate's Preconditions.Check →
/// InterpretUpdateError: NewConflict around the StorageError.
#[tokio::test]
async fn put_with_a_uid_that_differs_from_the_stored_one() {
    let s = server().await;
    let stored = create_cm(&s, "a").await;
    let uid = stored["metadata"]["uid"].as_str().unwrap().to_owned();
    let mut body = cm("a");
    body["metadata"]["uid"] = json!("6a1f1bd6-0000-0000-0000-000000000000");
    let got = send(&s, Method::PUT, &format!("{CMS}/a"), &body).await;
    assert_status(
        &got,
        409,
        "Conflict",
        &format!("Operation cannot be fulfilled on configmaps \"a\": StorageError: invalid object, Code: 4, Key: /registry/configmaps/default/a, ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: UID in precondition: 6a1f1bd6-0000-0000-0000-000000000000, UID in object meta: {uid}"),
    );
    assert_details(&got, json!({"name": "a", "kind": "configmaps"}));
}

/// rest.BeforeDelete: NewConflict on GroupResource{Group, Resource: Kind}.
#[tokio::test]
async fn delete_with_a_uid_precondition_that_fails() {
    let s = server().await;
    let stored = create_cm(&s, "a").await;
    let uid = stored["metadata"]["uid"].as_str().unwrap().to_owned();
    let options =
        json!({"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": {"uid": "nope"}});
    let got = send(&s, Method::DELETE, &format!("{CMS}/a"), &options).await;
    assert_status(
        &got,
        409,
        "Conflict",
        &format!("Operation cannot be fulfilled on ConfigMap \"a\": the UID in the precondition (nope) does not match the UID in record ({uid}). The object might have been deleted and then recreated"),
    );
    assert_details(&got, json!({"name": "a", "kind": "ConfigMap"}));
}

#[tokio::test]
async fn delete_with_a_resource_version_precondition_that_fails() {
    let s = server().await;
    let stored = create_cm(&s, "a").await;
    let rv = stored["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_owned();
    let options = json!({"preconditions": {"resourceVersion": "1"}});
    let got = send(&s, Method::DELETE, &format!("{CMS}/a"), &options).await;
    assert_status(
        &got,
        409,
        "Conflict",
        &format!("Operation cannot be fulfilled on ConfigMap \"a\": the ResourceVersion in the precondition (1) does not match the ResourceVersion in record ({rv}). The object might have been modified"),
    );
    assert_details(&got, json!({"name": "a", "kind": "ConfigMap"}));
}

/// jsonPatcher.applyJSPatch: an Apply failure becomes
/// NewGenericServerResponse(422, …): the generic message and empty details.
#[track_caller]
fn assert_json_patch_failed(got: &(StatusCode, Value)) {
    assert_status(
        got,
        422,
        "Invalid",
        "the server rejected our request due to an error in our request",
    );
    assert_details(got, json!({}));
}

async fn json_patch(s: &ApiServer, patch: Value) -> (StatusCode, Value) {
    call(
        s,
        Method::PATCH,
        &format!("{CMS}/a"),
        "application/json-patch+json",
        serde_json::to_vec(&patch).unwrap(),
    )
    .await
}

#[tokio::test]
async fn json_patch_with_an_unknown_op() {
    let s = server().await;
    create_cm(&s, "a").await;
    assert_json_patch_failed(&json_patch(&s, json!([{"op": "frob", "path": "/data/a"}])).await);
}

#[tokio::test]
async fn json_patch_with_a_failing_test_op() {
    let s = server().await;
    create_cm(&s, "a").await;
    let got = json_patch(
        &s,
        json!([{"op": "test", "path": "/data/a", "value": "zzz"}, {"op": "remove", "path": "/data/a"}]),
    )
    .await;
    assert_json_patch_failed(&got);
    assert_eq!(get(&s, &format!("{CMS}/a")).await.1["data"]["a"], "b");
}

#[tokio::test]
async fn json_patch_with_a_path_that_is_not_there() {
    let s = server().await;
    create_cm(&s, "a").await;
    assert_json_patch_failed(
        &json_patch(&s, json!([{"op": "remove", "path": "/data/nope"}])).await,
    );
    assert_json_patch_failed(
        &json_patch(
            &s,
            json!([{"op": "replace", "path": "/spec/x", "value": 1}]),
        )
        .await,
    );
}

/// jsonpatch.DecodePatch of a non-array: the JSON unmarshal error, as a 400.
#[tokio::test]
async fn json_patch_that_is_not_a_list() {
    let s = server().await;
    create_cm(&s, "a").await;
    let got = json_patch(&s, json!({"op": "remove", "path": "/data/a"})).await;
    assert_status(
        &got,
        400,
        "BadRequest",
        "json: cannot unmarshal object into Go value of type jsonpatch.Patch",
    );
}

// ===== object rules =====

#[track_caller]
fn assert_invalid(
    got: &(StatusCode, Value),
    kind: &str,
    group: &str,
    name: &str,
    causes: &[(&str, &str, &str)],
) {
    let each: Vec<String> = causes
        .iter()
        .map(|(field, _, message)| format!("{field}: {message}"))
        .collect();
    let all = match each.len() {
        1 => each[0].clone(),
        _ => format!("[{}]", each.join(", ")),
    };
    let qualified = if group.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}.{group}")
    };
    assert_status(
        got,
        422,
        "Invalid",
        &format!("{qualified} \"{name}\" is invalid: {all}"),
    );
    let mut details = json!({"kind": kind, "causes": causes
        .iter()
        .map(|(field, reason, message)| json!({"field": field, "reason": reason, "message": message}))
        .collect::<Vec<_>>()});
    if !group.is_empty() {
        details["group"] = json!(group);
    }
    // NewInvalid's empty name is omitted (`omitempty`).
    if !name.is_empty() {
        details["name"] = json!(name);
    }
    assert_details(got, details);
}

/// ValidateObjectMetaAccessorUpdate → ValidateNoNewFinalizers.
#[tokio::test]
async fn finalizers_added_to_an_object_being_deleted() {
    let s = server().await;
    let mut body = cm("a");
    body["metadata"]["finalizers"] = json!(["example.com/a"]);
    send(&s, Method::POST, CMS, &body).await;
    let (code, _) = call(&s, Method::DELETE, &format!("{CMS}/a"), "", "").await;
    assert_eq!(code, StatusCode::OK);
    let patch =
        json!({"metadata": {"finalizers": ["example.com/a", "example.com/c", "example.com/b"]}});
    let got = send(&s, Method::PATCH, &format!("{CMS}/a"), &patch).await;
    assert_invalid(
        &got,
        "ConfigMap",
        "",
        "a",
        &[(
            "metadata.finalizers",
            "FieldValueForbidden",
            "Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{\"example.com/b\", \"example.com/c\"}",
        )],
    );
    // Removing one is fine.
    let got = send(
        &s,
        Method::PATCH,
        &format!("{CMS}/a"),
        &json!({"metadata": {"finalizers": null}}),
    )
    .await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
}

/// The service REST's node port allocation: ErrNotInRange as a field.Invalid on the port.
#[tokio::test]
async fn node_port_outside_the_range() {
    let s = server().await;
    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
        "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 8080}]}});
    let got = send(
        &s,
        Method::POST,
        "/api/v1/namespaces/default/services",
        &svc,
    )
    .await;
    assert_invalid(
        &got,
        "Service",
        "",
        "web",
        &[(
            "spec.ports[0].nodePort",
            "FieldValueInvalid",
            "Invalid value: 8080: provided port is not in the valid range. The range of valid ports is 30000-32767",
        )],
    );
}

/// ValidateLabels → IsValidLabelValue.
#[tokio::test]
async fn label_value_longer_than_63_characters() {
    let s = server().await;
    let long = "a".repeat(64);
    let mut body = cm("a");
    body["metadata"]["labels"] = json!({"k": long});
    let got = send(&s, Method::POST, CMS, &body).await;
    assert_invalid(
        &got,
        "ConfigMap",
        "",
        "a",
        &[(
            "metadata.labels",
            "FieldValueInvalid",
            &format!("Invalid value: \"{long}\": must be no more than 63 characters"),
        )],
    );
}

/// ValidateAnnotations → field.TooLong(metadata.annotations, TotalAnnotationSizeLimitB).
#[tokio::test]
async fn annotations_over_256_kib() {
    let s = server().await;
    let mut body = cm("a");
    body["metadata"]["annotations"] = json!({"k": "x".repeat(256 * 1024)});
    let got = send(&s, Method::POST, CMS, &body).await;
    assert_invalid(
        &got,
        "ConfigMap",
        "",
        "a",
        &[(
            "metadata.annotations",
            "FieldValueTooLong",
            "Too long: may not be more than 262144 bytes",
        )],
    );
}

/// ValidateSecret: the data total against MaxSecretSize, on `data`.
#[tokio::test]
async fn secret_data_over_1_mib() {
    let s = server().await;
    let big = "x".repeat(1024 * 1024 + 1);
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
        "stringData": {"k": big}});
    let got = send(
        &s,
        Method::POST,
        "/api/v1/namespaces/default/secrets",
        &secret,
    )
    .await;
    assert_invalid(
        &got,
        "Secret",
        "",
        "s",
        &[(
            "data",
            "FieldValueTooLong",
            "Too long: may not be more than 1048576 bytes",
        )],
    );
}

/// BeforeCreate: ValidateObjectMeta's name requirement.
#[tokio::test]
async fn create_without_a_name() {
    let s = server().await;
    let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}});
    let got = send(&s, Method::POST, CMS, &body).await;
    assert_invalid(
        &got,
        "ConfigMap",
        "",
        "",
        &[(
            "metadata.name",
            "FieldValueRequired",
            "Required value: name or generateName is required",
        )],
    );
}

/// EnsureObjectNamespaceMatchesRequestNamespace.
#[tokio::test]
async fn namespace_of_the_body_differs_from_the_url() {
    let s = server().await;
    let mut body = cm("a");
    body["metadata"]["namespace"] = json!("other");
    let got = send(&s, Method::POST, CMS, &body).await;
    assert_status(
        &got,
        400,
        "BadRequest",
        "the namespace of the provided object does not match the namespace sent on the request",
    );
}

/// The update handler's checkName.
#[tokio::test]
async fn name_of_the_body_differs_from_the_url() {
    let s = server().await;
    create_cm(&s, "a").await;
    let got = send(&s, Method::PUT, &format!("{CMS}/a"), &cm("b")).await;
    assert_status(
        &got,
        400,
        "BadRequest",
        "the name of the object (b) does not match the name on the URL (a)",
    );
}

// ===== CustomResourceDefinitions (apiextensions-apiserver) =====

/// ValidateCustomResourceDefinition's name function.
#[tokio::test]
async fn crd_name_is_not_plural_dot_group() {
    let s = server().await;
    let got = send(&s, Method::POST, CRDS, &widget_crd("gadgets.example.com")).await;
    assert_invalid(
        &got,
        "CustomResourceDefinition",
        "apiextensions.k8s.io",
        "gadgets.example.com",
        &[(
            "metadata.name",
            "FieldValueInvalid",
            "Invalid value: \"gadgets.example.com\": must be spec.names.plural+\".\"+spec.group",
        )],
    );
}

/// validateStructuralInvariants, at the path of the internal type: a schema every version
/// shares is converted into `spec.validation`.
#[tokio::test]
async fn crd_schema_without_a_root_type() {
    let s = server().await;
    let mut crd = widget_crd("widgets.example.com");
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"] =
        json!({"properties": {"spec": {"type": "object"}}});
    let got = send(&s, Method::POST, CRDS, &crd).await;
    assert_invalid(
        &got,
        "CustomResourceDefinition",
        "apiextensions.k8s.io",
        "widgets.example.com",
        &[(
            "spec.validation.openAPIV3Schema.type",
            "FieldValueRequired",
            "Required value: must not be empty at the root",
        )],
    );
}

#[tokio::test]
async fn crd_schema_with_a_field_without_a_type() {
    let s = server().await;
    let mut crd = widget_crd("widgets.example.com");
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"] =
        json!({"type": "object", "properties": {"spec": {"description": "no type"}}});
    let got = send(&s, Method::POST, CRDS, &crd).await;
    assert_invalid(
        &got,
        "CustomResourceDefinition",
        "apiextensions.k8s.io",
        "widgets.example.com",
        &[(
            "spec.validation.openAPIV3Schema.properties[spec].type",
            "FieldValueRequired",
            "Required value: must not be empty for specified object fields",
        )],
    );
}

#[tokio::test]
async fn crd_version_without_a_schema() {
    let s = server().await;
    let mut crd = widget_crd("widgets.example.com");
    crd["spec"]["versions"][0]
        .as_object_mut()
        .unwrap()
        .remove("schema");
    let got = send(&s, Method::POST, CRDS, &crd).await;
    assert_invalid(
        &got,
        "CustomResourceDefinition",
        "apiextensions.k8s.io",
        "widgets.example.com",
        &[(
            "spec.versions[0].schema.openAPIV3Schema",
            "FieldValueRequired",
            "Required value: schemas are required",
        )],
    );
}

/// The names upstream requires after defaulting (singular and listKind come from kind).
#[tokio::test]
async fn crd_without_a_kind() {
    let s = server().await;
    let mut crd = widget_crd("widgets.example.com");
    crd["spec"]["names"] = json!({"plural": "widgets"});
    let got = send(&s, Method::POST, CRDS, &crd).await;
    assert_invalid(
        &got,
        "CustomResourceDefinition",
        "apiextensions.k8s.io",
        "widgets.example.com",
        &[
            (
                "spec.names.singular",
                "FieldValueRequired",
                "Required value",
            ),
            ("spec.names.kind", "FieldValueRequired", "Required value"),
            (
                "spec.names.listKind",
                "FieldValueRequired",
                "Required value",
            ),
        ],
    );
}

#[tokio::test]
async fn crd_with_a_group_without_a_dot() {
    let s = server().await;
    let mut crd = widget_crd("widgets.example");
    crd["spec"]["group"] = json!("example");
    let got = send(&s, Method::POST, CRDS, &crd).await;
    assert_invalid(
        &got,
        "CustomResourceDefinition",
        "apiextensions.k8s.io",
        "widgets.example",
        &[(
            "spec.group",
            "FieldValueInvalid",
            "Invalid value: \"example\": should be a domain with at least one dot",
        )],
    );
}

/// `spec.versions` is shown with Go's %#v of the internal versions, which we cannot reproduce:
/// the field, reason and the explanation are checked.
#[tokio::test]
async fn crd_with_two_storage_versions() {
    let s = server().await;
    let mut crd = widget_crd("widgets.example.com");
    let v1 = crd["spec"]["versions"][0].clone();
    let mut v2 = v1.clone();
    v2["name"] = json!("v2");
    crd["spec"]["versions"] = json!([v1, v2]);
    let (code, body) = send(&s, Method::POST, CRDS, &crd).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let cause = &body["details"]["causes"][0];
    assert_eq!(cause["field"], "spec.versions", "{body}");
    assert_eq!(cause["reason"], "FieldValueInvalid", "{body}");
    assert!(
        cause["message"]
            .as_str()
            .unwrap()
            .ends_with(": must have exactly one version marked as storage version"),
        "{body}"
    );
    assert_eq!(
        body["details"]["causes"].as_array().unwrap().len(),
        1,
        "{body}"
    );
}

/// SetDefaults_CustomResourceDefinitionSpec.
#[tokio::test]
async fn crd_names_are_defaulted() {
    let s = server().await;
    let got = send(&s, Method::POST, CRDS, &widget_crd("widgets.example.com")).await;
    assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
    let names = &got.1["spec"]["names"];
    assert_eq!(names["singular"], "widget");
    assert_eq!(names["listKind"], "WidgetList");
    assert_eq!(got.1["spec"]["conversion"], json!({"strategy": "None"}));
}

/// NewInvalid names the kind with its group (`GroupKind.String()`).
#[tokio::test]
async fn invalid_object_of_a_grouped_kind() {
    let s = server().await;
    let lease = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "Bad_Name"}, "spec": {}});
    let got = send(
        &s,
        Method::POST,
        "/apis/coordination.k8s.io/v1/namespaces/default/leases",
        &lease,
    )
    .await;
    assert_invalid(
        &got,
        "Lease",
        "coordination.k8s.io",
        "Bad_Name",
        &[(
            "metadata.name",
            "FieldValueInvalid",
            "Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        )],
    );
}

/// BeforeCreate generates the name before ValidateObjectMeta: a bad prefix is reported on
/// `metadata.generateName` and again on the generated `metadata.name`.
#[tokio::test]
async fn generate_name_that_makes_an_invalid_name() {
    let s = server().await;
    let body =
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "Bad-"}});
    let (code, status) = send(&s, Method::POST, CMS, &body).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{status}");
    let causes: Vec<(&str, &str)> = status["details"]["causes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["field"].as_str().unwrap(), c["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(
        causes,
        [
            ("metadata.generateName", "FieldValueInvalid"),
            ("metadata.name", "FieldValueInvalid")
        ],
        "{status}"
    );
    let name = status["details"]["name"].as_str().unwrap();
    assert!(name.starts_with("Bad-") && name.len() == 9, "{status}");
}

/// SimpleNameGenerator truncates a long base to 58 characters, so any valid `generateName`
/// gives a valid name of at most 63 (no error where a plain concatenation would be too long).
#[tokio::test]
async fn generate_name_with_a_long_base() {
    let s = server().await;
    let base = format!("{}-", "a".repeat(69));
    let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": base}});
    let (code, created) = send(&s, Method::POST, CMS, &body).await;
    assert_eq!(code, StatusCode::CREATED, "{created}");
    let name = created["metadata"]["name"].as_str().unwrap();
    assert_eq!(name.len(), 63, "{name}");
    assert!(name.starts_with(&"a".repeat(58)), "{name}");
}

/// ValidateConfigMapUpdate: data of an immutable ConfigMap.
#[tokio::test]
async fn data_of_an_immutable_configmap() {
    let s = server().await;
    let mut body = cm("a");
    body["immutable"] = json!(true);
    send(&s, Method::POST, CMS, &body).await;
    body["data"] = json!({"a": "changed"});
    let got = send(&s, Method::PUT, &format!("{CMS}/a"), &body).await;
    assert_invalid(
        &got,
        "ConfigMap",
        "",
        "a",
        &[(
            "data",
            "FieldValueForbidden",
            "Forbidden: field is immutable when `immutable` is set",
        )],
    );
}

/// A `generateName` create in a terminating namespace: NamespaceLifecycle (mutating admission)
/// runs before the name is generated, so upstream's `NewForbidden` names only the resource and
/// `details` has no name.
#[tokio::test]
async fn generate_name_create_in_a_terminating_namespace() {
    let server = server().await;
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "gone"}});
    let (code, body) = send(&server, Method::POST, "/api/v1/namespaces", &ns).await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    // A finalizer nobody removes keeps the namespace terminating.
    let held = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "held", "finalizers": ["example.com/hold"]}});
    let cms = "/api/v1/namespaces/gone/configmaps";
    let (code, body) = send(&server, Method::POST, cms, &held).await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    let (code, body) = send(
        &server,
        Method::DELETE,
        "/api/v1/namespaces/gone",
        &json!({}),
    )
    .await;
    assert_eq!(code, StatusCode::OK, "{body}");

    let generated = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "p-"},
        "spec": {"containers": [{"name": "c", "image": "x"}]}});
    let got = send(
        &server,
        Method::POST,
        "/api/v1/namespaces/gone/pods",
        &generated,
    )
    .await;
    assert_status(
        &got,
        403,
        "Forbidden",
        "pods is forbidden: unable to create new content in namespace gone because it is being terminated",
    );
    assert_details(
        &got,
        json!({"kind": "pods", "causes": [{"reason": "NamespaceTerminating",
            "message": "namespace gone is being terminated", "field": "metadata.namespace"}]}),
    );
    let named = cm("named");
    let got = send(&server, Method::POST, cms, &named).await;
    assert_status(
        &got,
        403,
        "Forbidden",
        "configmaps \"named\" is forbidden: unable to create new content in namespace gone because it is being terminated",
    );
}

/// Selectors parse with kernel-core (upstream's `labels.Parse` and `fields.ParseSelector`): the
/// 400s carry upstream's parse errors unwrapped (before, kernel-api prefixed them once more with
/// `unable to parse requirement: ` and `invalid field selector: `).
#[tokio::test]
async fn selectors_that_do_not_parse() {
    let server = server().await;
    let got = get(&server, &format!("{CMS}?labelSelector=x%3Da%2C")).await;
    assert_status(
        &got,
        400,
        "BadRequest",
        "found '', expected: identifier after ','",
    );
    let got = get(&server, &format!("{CMS}?fieldSelector=foo")).await;
    assert_status(
        &got,
        400,
        "BadRequest",
        "invalid selector: 'foo'; can't understand 'foo'",
    );
    let got = get(&server, &format!("{CMS}?labelSelector=a%20in%20(x")).await;
    assert_status(
        &got,
        400,
        "BadRequest",
        "unable to parse requirement: found '', expected: ',' or ')'",
    );
    let got = get(
        &server,
        &format!("{CMS}?fieldSelector=metadata.name%3Da%5Cb"),
    )
    .await;
    assert_status(
        &got,
        400,
        "BadRequest",
        "invalid field selector: invalid escape sequence: \\b",
    );
}

/// The QoS class a create sets is kernel-core's `ComputePodQOS`, after defaulting: quantities
/// compare exactly (`1000m` requests against a `1` limit: Guaranteed; the old string comparison
/// answered Burstable), and only CPU and memory count (an ephemeral-storage request alone:
/// BestEffort; before: Burstable).
#[tokio::test]
async fn pod_qos_class_on_create() {
    let server = server().await;
    let pod = |name: &str, resources: Value| {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "x", "resources": resources}]}})
    };
    for (name, resources, want) in [
        (
            "g",
            json!({"requests": {"cpu": "1000m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}),
            "Guaranteed",
        ),
        (
            "e",
            json!({"requests": {"ephemeral-storage": "1Gi"}}),
            "BestEffort",
        ),
        ("b", json!({"requests": {"cpu": "1"}}), "Burstable"),
    ] {
        let (code, body) = send(&server, Method::POST, PODS, &pod(name, resources)).await;
        assert_eq!(code, StatusCode::CREATED, "{body}");
        assert_eq!(body["status"]["qosClass"], want, "{name}");
    }
}
