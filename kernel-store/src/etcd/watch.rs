//! The watch of [`EtcdStore`](super::EtcdStore): one etcd gRPC watch stream per
//! [`Watch::watch`](crate::Watch::watch) call, pumped by a tokio task into the returned stream.
//!
//! The task remembers the next revision it owes the consumer. When the gRPC stream breaks (etcd
//! restarted, connection lost) it reopens the watch from that revision, with backoff, so the
//! consumer sees no gap and no duplicate. A compacted start revision ends the stream with
//! [`Error::Compacted`]. Dropping the stream ends the task, which cancels the etcd watcher.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use http::uri::PathAndQuery;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;
use tonic::Status;
use tonic_prost::ProstCodec;

use super::{
    prefix_end, proto, revision_of, Inner, RangeRequestPb, Retry, ERR_COMPACTED, KV_RANGE, WATCH,
};
use crate::{Error, Event, EventKind, Result, Revision, WatchRequest, WatchStream};

/// How long etcd may take to confirm a watch.
const CREATE_TIMEOUT: Duration = Duration::from_secs(10);
/// First pause before reopening a broken watch; doubles up to [`BACKOFF_MAX`].
const BACKOFF_START: Duration = Duration::from_millis(100);
/// Longest pause between reopen attempts.
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// A watch that cannot be reopened for this long ends with [`Error::Backend`].
const GIVE_UP_AFTER: Duration = Duration::from_secs(120);
/// Events buffered between the task and a slow consumer.
const BUFFER: usize = 256;

/// Opens a watch: checks the start revision, creates the etcd watcher, then hands the stream to
/// a background task.
pub(super) async fn open(inner: Arc<Inner>, request: WatchRequest) -> Result<WatchStream> {
    let start = request.start_revision.filter(|r| *r > 0);
    if let Some(start) = start {
        check_start(&inner, start).await?;
    }
    let key = inner.full_key(&request.key);
    let range_end = if request.prefix {
        prefix_end(&key)
    } else {
        Vec::new()
    };
    let (tx, rx) = mpsc::channel(BUFFER);
    let mut watcher = Watcher {
        inner,
        key,
        range_end,
        prev_kv: request.prev_kv,
        next: start,
        tx,
    };
    let session = match watcher.open_session().await {
        Ok(session) => session,
        Err(Failure::Compacted(compacted)) => {
            watcher.inner.saw_compacted(compacted);
            return Err(Error::Compacted {
                requested: start.unwrap_or(0),
                compacted,
            });
        }
        Err(Failure::Canceled(reason)) => {
            return Err(Error::Backend(format!("etcd refused the watch: {reason}")))
        }
        Err(Failure::Broken(status)) => return Err(watcher.inner.error(status, 0, &[])),
    };
    tokio::spawn(watcher.run(session));
    Ok(ReceiverStream::new(rx).boxed())
}

/// Fails with [`Error::Compacted`] if `start` is below the compacted revision, so the caller
/// learns it from `watch` itself (a compaction racing with the watch still ends the stream).
async fn check_start(inner: &Inner, start: Revision) -> Result<()> {
    let request = RangeRequestPb {
        key: inner.probe_key(),
        revision: start,
        count_only: true,
        ..Default::default()
    };
    match inner
        .call::<_, proto::RangeResponse>(KV_RANGE, request, Retry::Always)
        .await
    {
        Ok(_) => Ok(()),
        Err(status) if status.message().contains(ERR_COMPACTED) => {
            let compacted = inner.compacted_revision().await.unwrap_or(start);
            Err(Error::Compacted {
                requested: start,
                compacted,
            })
        }
        // A future start revision is fine: the watch waits for it.
        Err(status) if status.message().contains(super::ERR_FUTURE) => Ok(()),
        Err(status) => Err(inner.error(status, start, &[])),
    }
}

/// The compacted revision, as etcd reports it when canceling a watch from revision 1.
/// Only meaningful when revision 1 is known to be compacted.
pub(super) async fn probe_compacted(inner: &Inner) -> Result<Revision> {
    let (_, channel) = inner.channel();
    let create = create_request(inner.probe_key(), Vec::new(), 1, false);
    let probe = async {
        let (_requests, mut responses) = open_stream(channel, create).await?;
        loop {
            let Some(response) = responses.message().await? else {
                return Err(Status::unavailable("etcd closed the watch stream"));
            };
            if response.compact_revision > 0 {
                return Ok(response.compact_revision);
            }
            if response.canceled {
                return Err(Status::unknown(format!(
                    "watch canceled: {}",
                    response.cancel_reason
                )));
            }
        }
    };
    match tokio::time::timeout(CREATE_TIMEOUT, probe).await {
        Ok(Ok(revision)) => Ok(revision),
        Ok(Err(status)) => Err(inner.error(status, 0, &[])),
        Err(_) => Err(Error::backend(
            "etcd did not report its compacted revision in time",
        )),
    }
}

fn create_request(
    key: Vec<u8>,
    range_end: Vec<u8>,
    start_revision: Revision,
    prev_kv: bool,
) -> proto::WatchRequest {
    proto::WatchRequest {
        request_union: Some(proto::WatchRequestUnion::Create(
            proto::WatchCreateRequest {
                key,
                range_end,
                start_revision,
                progress_notify: true,
                prev_kv,
                watch_id: 0,
            },
        )),
    }
}

/// Opens a gRPC watch stream whose first message is `create`.
async fn open_stream(
    channel: Channel,
    create: proto::WatchRequest,
) -> Result<
    (
        mpsc::Sender<proto::WatchRequest>,
        tonic::Streaming<proto::WatchResponse>,
    ),
    Status,
> {
    let (requests, rx) = mpsc::channel(4);
    requests.try_send(create).expect("a fresh channel has room");
    let mut grpc = super::grpc_client(channel);
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(format!("etcd connection not ready: {e}")))?;
    let codec = ProstCodec::<proto::WatchRequest, proto::WatchResponse>::default();
    let responses = grpc
        .streaming(
            tonic::Request::new(ReceiverStream::new(rx)),
            PathAndQuery::from_static(WATCH),
            codec,
        )
        .await?
        .into_inner();
    Ok((requests, responses))
}

/// Why a watch session could not be opened or continued.
enum Failure {
    /// The revision asked for is compacted; etcd's compacted revision.
    Compacted(Revision),
    /// etcd canceled the watcher for another reason (not retried).
    Canceled(String),
    /// The connection or stream failed (retried).
    Broken(Status),
}

/// How a session ended.
enum End {
    /// The consumer dropped the stream.
    ConsumerGone,
    /// The session cannot go on.
    Failed(Failure),
}

/// One open etcd watcher on one gRPC stream.
struct Session {
    /// Keeps the client half of the stream open; used to cancel.
    requests: mpsc::Sender<proto::WatchRequest>,
    responses: tonic::Streaming<proto::WatchResponse>,
    watch_id: i64,
}

/// The state of one watch, owned by its task.
struct Watcher {
    inner: Arc<Inner>,
    key: Vec<u8>,
    range_end: Vec<u8>,
    prev_kv: bool,
    /// The next revision owed to the consumer (`None` until etcd confirms a "from now" watch).
    next: Option<Revision>,
    tx: mpsc::Sender<Result<Event>>,
}

// === impl Watcher ===

impl Watcher {
    /// Creates the etcd watcher from `next` on the current endpoint.
    async fn open_session(&mut self) -> Result<Session, Failure> {
        let (index, channel) = self.inner.channel();
        let create = create_request(
            self.key.clone(),
            self.range_end.clone(),
            self.next.unwrap_or(0),
            self.prev_kv,
        );
        let result = tokio::time::timeout(CREATE_TIMEOUT, async {
            let (requests, mut responses) = open_stream(channel, create)
                .await
                .map_err(Failure::Broken)?;
            loop {
                let response = match responses.message().await {
                    Ok(Some(response)) => response,
                    Ok(None) => {
                        return Err(Failure::Broken(Status::unavailable(
                            "etcd closed the watch stream",
                        )))
                    }
                    Err(status) => return Err(Failure::Broken(status)),
                };
                if response.compact_revision > 0 {
                    return Err(Failure::Compacted(response.compact_revision));
                }
                if response.canceled {
                    return Err(Failure::Canceled(response.cancel_reason));
                }
                if response.created {
                    return Ok((requests, responses, response));
                }
            }
        })
        .await;
        match result {
            Ok(Ok((requests, responses, created))) => {
                if self.next.is_none() {
                    // A watch "from now" owes every event after the revision it was created at.
                    self.next = Some(revision_of(created.header.as_ref()) + 1);
                }
                Ok(Session {
                    requests,
                    responses,
                    watch_id: created.watch_id,
                })
            }
            Ok(Err(Failure::Broken(status))) => {
                if super::is_transport_failure(&status) {
                    self.inner.failover(index);
                }
                Err(Failure::Broken(status))
            }
            Ok(Err(failure)) => Err(failure),
            Err(_) => {
                self.inner.failover(index);
                Err(Failure::Broken(Status::deadline_exceeded(
                    "etcd did not confirm the watch in time",
                )))
            }
        }
    }

    /// The task: pumps sessions, reopening them until the consumer leaves or the watch fails.
    async fn run(mut self, first: Session) {
        let mut session = Some(first);
        let mut backoff = BACKOFF_START;
        let mut failing_since: Option<Instant> = None;
        loop {
            let current = match session.take() {
                Some(current) => current,
                None => match self.open_session().await {
                    Ok(current) => {
                        tracing::info!(next = ?self.next, "etcd watch resumed");
                        failing_since = None;
                        current
                    }
                    Err(Failure::Broken(status)) => {
                        let since = *failing_since.get_or_insert_with(Instant::now);
                        if since.elapsed() > GIVE_UP_AFTER {
                            let message =
                                format!("etcd watch could not be resumed: {}", status.message());
                            return self.fail(Error::Backend(message)).await;
                        }
                        tracing::debug!(%status, ?backoff, "etcd watch reopen failed");
                        tokio::select! {
                            _ = self.tx.closed() => return,
                            _ = tokio::time::sleep(backoff) => {}
                        }
                        backoff = (backoff * 2).min(BACKOFF_MAX);
                        continue;
                    }
                    Err(failure) => return self.fail_with(failure).await,
                },
            };
            match self.pump(current, &mut backoff).await {
                End::ConsumerGone => return,
                End::Failed(Failure::Broken(status)) => {
                    tracing::warn!(%status, next = ?self.next, "etcd watch stream broke, reopening");
                    tokio::select! {
                        _ = self.tx.closed() => return,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                }
                End::Failed(failure) => return self.fail_with(failure).await,
            }
        }
    }

    /// Forwards a session's events until it ends.
    async fn pump(&mut self, mut session: Session, backoff: &mut Duration) -> End {
        loop {
            let message = tokio::select! {
                _ = self.tx.closed() => {
                    let cancel = proto::WatchRequest {
                        request_union: Some(proto::WatchRequestUnion::Cancel(proto::WatchCancelRequest {
                            watch_id: session.watch_id,
                        })),
                    };
                    let _ = session.requests.try_send(cancel);
                    return End::ConsumerGone;
                }
                message = session.responses.message() => message,
            };
            let response = match message {
                Ok(Some(response)) => response,
                Ok(None) => {
                    return End::Failed(Failure::Broken(Status::unavailable(
                        "etcd closed the watch stream",
                    )))
                }
                Err(status) => return End::Failed(Failure::Broken(status)),
            };
            // The session works: the next break starts backing off from the beginning.
            *backoff = BACKOFF_START;
            if response.compact_revision > 0 {
                return End::Failed(Failure::Compacted(response.compact_revision));
            }
            if response.canceled {
                return End::Failed(Failure::Canceled(response.cancel_reason));
            }
            let next = self.next.unwrap_or(0);
            if response.events.is_empty() {
                // Progress notification: later events have a higher revision than the header's.
                let progress = revision_of(response.header.as_ref());
                if !response.created && progress >= next {
                    self.next = Some(progress + 1);
                }
                continue;
            }
            // etcd never splits one revision over two responses (no fragmenting requested), so
            // after a response every event up to its last revision has been delivered.
            let mut last = None;
            for event in response.events {
                let event = match self.event(event) {
                    Ok(event) => event,
                    Err(error) => {
                        let _ = self.tx.send(Err(error)).await;
                        return End::ConsumerGone;
                    }
                };
                let revision = event.revision();
                if revision < next {
                    continue; // already delivered before a reconnect
                }
                if self.tx.send(Ok(event)).await.is_err() {
                    return End::ConsumerGone;
                }
                last = Some(revision);
            }
            if let Some(last) = last {
                self.next = Some(last + 1);
            }
        }
    }

    fn event(&self, event: proto::Event) -> Result<Event> {
        let kind = match event.r#type {
            proto::EVENT_PUT => EventKind::Put,
            proto::EVENT_DELETE => EventKind::Delete,
            other => return Err(Error::backend(format!("unknown etcd event type {other}"))),
        };
        let kv = self.inner.key_value(event.kv.unwrap_or_default())?;
        let prev_kv = if self.prev_kv {
            event
                .prev_kv
                .map(|kv| self.inner.key_value(kv))
                .transpose()?
        } else {
            None
        };
        Ok(Event { kind, kv, prev_kv })
    }

    async fn fail_with(&self, failure: Failure) {
        let error = match failure {
            Failure::Compacted(compacted) => {
                self.inner.saw_compacted(compacted);
                Error::Compacted {
                    requested: self.next.unwrap_or(0),
                    compacted,
                }
            }
            Failure::Canceled(reason) => {
                Error::Backend(format!("etcd canceled the watch: {reason}"))
            }
            Failure::Broken(status) => self.inner.error(status, 0, &[]),
        };
        self.fail(error).await;
    }

    /// Ends the stream with `error`.
    async fn fail(&self, error: Error) {
        tracing::debug!(%error, "etcd watch ends");
        let _ = self.tx.send(Err(error)).await;
    }
}
