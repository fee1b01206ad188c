//! `GET …?watch=1` and `/watch/…`: a stream of `{"type": …, "object": …}` lines.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::stream::{self, StreamExt};
use http::{header, Response, StatusCode};
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use serde_json::{json, Value};

use super::read::Filter;
use super::{Body, Ctx};
use crate::registry::ListOptions;
use crate::status::{Error, Result};
use crate::strategy::Strategy;
use crate::watch_cache::{CachedEvent, EventType};

/// A one-row `meta.k8s.io/v1` Table for a watch event (as upstream sends to `kubectl get -w`).
fn as_table(strategy: &dyn Strategy, object: &Value) -> Value {
    let mut table = crate::strategy::to_table(strategy, std::slice::from_ref(object), true);
    table["metadata"]["resourceVersion"] = object["metadata"]["resourceVersion"].clone();
    table
}

fn line(kind: &str, object: &Value) -> Bytes {
    let mut bytes =
        serde_json::to_vec(&json!({ "type": kind, "object": object })).unwrap_or_default();
    bytes.push(b'\n');
    Bytes::from(bytes)
}

fn bookmark(ctx: &Ctx, revision: i64, initial_end: bool) -> Value {
    let mut meta = json!({ "resourceVersion": revision.to_string() });
    if initial_end {
        meta["annotations"] = json!({ "k8s.io/initial-events-end": "true" });
    }
    json!({ "kind": ctx.def.kind, "apiVersion": ctx.def.api_version(), "metadata": meta })
}

enum Item {
    Event(Arc<CachedEvent>),
    Error(Error),
    Tick,
}

/// Serves a watch.
pub async fn watch(ctx: &Ctx) -> Result<Response<Body>> {
    let filter = Filter::from_ctx(ctx)?;
    crate::options::check_read_resource_version(ctx)?;
    let mut filter = filter;
    let name = ctx.info.name.clone();
    let bookmarks = crate::options::query_flag(ctx.param("allowWatchBookmarks"));
    let send_initial = crate::options::query_flag(ctx.param("sendInitialEvents"));
    let timeout = ctx
        .param("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(1800));
    let rv = ctx.param("resourceVersion").unwrap_or("");
    let prefix = ctx.shared.registry.list_prefix(&ctx.def, None);
    let key_prefix = ctx
        .shared
        .registry
        .list_prefix(&ctx.def, ctx.namespace.as_deref());
    let name_filter = move |obj: &Value| {
        name.is_empty() || obj["metadata"]["name"].as_str() == Some(name.as_str())
    };
    let matches = {
        let filter = std::mem::take(&mut filter);
        let name_filter = name_filter.clone();
        move |obj: &Value| filter.matches(obj) && name_filter(obj)
    };

    // `kubectl get -w` asks for Tables: every event then carries a one-row Table.
    let table = ctx.wants_table().then(|| ctx.def.strategy.clone());

    // Initial state: for resourceVersion "" / "0" or sendInitialEvents, synthetic ADDED events.
    let mut initial: Vec<Bytes> = Vec::new();
    let from = if rv.is_empty() || rv == "0" || send_initial {
        let matches_ref = &matches;
        let f = |obj: &Value| matches_ref(obj);
        let page = ctx
            .shared
            .registry
            .list(
                &ctx.def,
                ctx.namespace.as_deref(),
                ListOptions {
                    filter: Some(&f),
                    ..Default::default()
                },
            )
            .await?;
        initial.extend(page.items.iter().map(|o| match &table {
            Some(strategy) => line("ADDED", &as_table(&**strategy, o)),
            None => line("ADDED", o),
        }));
        if send_initial && bookmarks {
            initial.push(line("BOOKMARK", &bookmark(ctx, page.revision, true)));
        }
        page.revision
    } else {
        // Checked above: a number (the store's revisions are i64).
        rv.parse::<i64>()
            .map_err(|_| Error::bad_request(format!("Too large resource version: {rv}")))?
    };

    let events = match ctx.shared.watch_cache.watch(&prefix, from).await {
        Ok(events) => events,
        Err(e) => {
            // Upstream answers 200 and sends the failure (e.g. 410 Expired) as an ERROR event.
            let body = stream::iter([Ok::<_, std::convert::Infallible>(Frame::data(line(
                "ERROR",
                &e.to_status(),
            )))]);
            return Ok(stream_response(StreamBody::new(body).boxed_unsync()));
        }
    };
    let ctx_for_bookmark = ctx.clone();
    let ticks = stream::unfold((), |()| async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        Some((Item::Tick, ()))
    });
    let items = stream::select(
        events.map(|e| match e {
            Ok(e) => Item::Event(e),
            Err(e) => Item::Error(e),
        }),
        ticks,
    );
    let def = ctx.def.clone();
    let mut last = from;
    let mut done = false;
    let live = items
        .take_until(tokio::time::sleep(timeout))
        .filter_map(move |item| {
            let out = if done {
                None
            } else {
                match item {
                    Item::Event(event) => {
                        last = last.max(event.revision);
                        if !event.key.starts_with(&key_prefix) {
                            None
                        } else {
                            let converted;
                            let convert = crate::registry::needs_conversion(&def, &event.object);
                            let (object, prev): (&Value, Option<&Value>) = if convert {
                                converted = (
                                    crate::registry::from_storage(&def, (*event.object).clone()),
                                    event
                                        .prev
                                        .as_deref()
                                        .cloned()
                                        .map(|p| crate::registry::from_storage(&def, p)),
                                );
                                (&converted.0, converted.1.as_ref())
                            } else {
                                (&*event.object, event.prev.as_deref())
                            };
                            let now = event.kind != EventType::Deleted && matches(object);
                            let before = prev.is_some_and(&matches);
                            let kind = match (before, now) {
                                (false, true) => Some("ADDED"),
                                (true, true) => Some("MODIFIED"),
                                (true, false) => Some("DELETED"),
                                (false, false) => None,
                            };
                            kind.map(|k| {
                                if let Some(strategy) = &table {
                                    line(k, &as_table(&**strategy, object))
                                } else if convert {
                                    line(k, object)
                                } else {
                                    event.line(k, || {
                                        event.stored_line(k).unwrap_or_else(|| line(k, object))
                                    })
                                }
                            })
                        }
                    }
                    Item::Error(e) => {
                        done = true;
                        Some(line("ERROR", &e.to_status()))
                    }
                    // Only revisions this stream has itself seen: a later one could skip an event
                    // still on its way through the broadcast.
                    Item::Tick if bookmarks => {
                        Some(line("BOOKMARK", &bookmark(&ctx_for_bookmark, last, false)))
                    }
                    Item::Tick => None,
                }
            };
            std::future::ready(out)
        });
    let body = stream::iter(initial)
        .chain(live)
        .map(|b| Ok::<_, std::convert::Infallible>(Frame::data(b)));
    Ok(stream_response(StreamBody::new(body).boxed_unsync()))
}

fn stream_response(body: Body) -> Response<Body> {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body)
        .unwrap_or_else(|_| Response::new(super::full(Bytes::new())))
}
