//! `GET /containerLogs/{namespace}/{pod}/{container}`: the container's CRI log file read back
//! as `kubectl logs` shows it (upstream `pkg/kubelet/kuberuntime/logs/logs.go`).
//!
//! Each line of the file is `<RFC 3339 nano time> <stdout|stderr> <F|P> <content>`; `P`
//! pieces are joined with the next piece into one line. The answer is the content of each
//! line (prefixed with its time, RFC 3339 nano, and a space with `timestamps=true`), after
//! `sinceSeconds`/`sinceTime` (lines at or after that time), `tailLines` (the last N lines)
//! and `limitBytes` (the answer is cut after N bytes). With `follow=true`, new lines are sent
//! as they are written until the container exits or the client goes away.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::sync::mpsc;

/// How often a followed log is looked at for new lines.
const FOLLOW_POLL: Duration = Duration::from_millis(100);

/// The query of a log request (upstream `PodLogOptions`, kubelet names).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogOptions {
    /// `follow`: stream new lines.
    pub follow: bool,
    /// `previous`: the previous attempt's log.
    pub previous: bool,
    /// `timestamps`: prefix each line with its time.
    pub timestamps: bool,
    /// `tailLines`.
    pub tail_lines: Option<u64>,
    /// `sinceSeconds` / `sinceTime`, as an instant.
    pub since: Option<jiff::Timestamp>,
    /// `limitBytes`.
    pub limit_bytes: Option<u64>,
}

impl LogOptions {
    /// Parses the query; `Err` with upstream-like messages for bad values.
    pub fn from_query(query: &[(String, String)]) -> Result<Self, String> {
        let mut o = LogOptions::default();
        let boolean = |k: &str, v: &str| match v {
            "" | "true" | "1" | "True" | "TRUE" => Ok(true),
            "false" | "0" | "False" | "FALSE" => Ok(false),
            _ => Err(format!(
                "invalid value {v:?} for {k}: must be true or false"
            )),
        };
        let number = |k: &str, v: &str| {
            v.parse::<i64>()
                .map_err(|_| format!("invalid value {v:?} for {k}: must be an integer"))
        };
        for (k, v) in query {
            match k.as_str() {
                "follow" => o.follow = boolean(k, v)?,
                "previous" => o.previous = boolean(k, v)?,
                "timestamps" => o.timestamps = boolean(k, v)?,
                "tailLines" => {
                    let n = number(k, v)?;
                    if n < 0 {
                        return Err("tailLines: must be greater than or equal to 0".into());
                    }
                    o.tail_lines = Some(n as u64);
                }
                "limitBytes" => {
                    let n = number(k, v)?;
                    if n < 1 {
                        return Err("limitBytes: must be greater than 0".into());
                    }
                    o.limit_bytes = Some(n as u64);
                }
                "sinceSeconds" => {
                    let n = number(k, v)?;
                    if n < 1 {
                        return Err("sinceSeconds: must be greater than 0".into());
                    }
                    let since = jiff::Timestamp::now()
                        .checked_sub(jiff::SignedDuration::from_secs(n))
                        .map_err(|e| format!("sinceSeconds: {e}"))?;
                    o.since = Some(since);
                }
                "sinceTime" => {
                    let t: jiff::Timestamp = v
                        .parse()
                        .map_err(|e| format!("invalid value {v:?} for sinceTime: {e}"))?;
                    o.since = Some(t);
                }
                _ => {}
            }
        }
        Ok(o)
    }
}

/// One line of a CRI log file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry<'a> {
    /// The time as written.
    pub time: &'a str,
    /// `stdout` or `stderr`.
    pub stream: &'a str,
    /// A `P` piece: the line goes on in the next entry.
    pub partial: bool,
    /// The content, without the newline.
    pub content: &'a [u8],
}

/// Parses one line of a CRI log file (without its newline); `None` if it is not one.
pub(crate) fn parse_line(line: &[u8]) -> Option<Entry<'_>> {
    let mut parts = line.splitn(4, |b| *b == b' ');
    let time = std::str::from_utf8(parts.next()?).ok()?;
    let stream = std::str::from_utf8(parts.next()?).ok()?;
    if stream != "stdout" && stream != "stderr" {
        return None;
    }
    // The tags: `P` or `F`, then any others after a `:` (upstream's `parseCRILog`).
    let tag = parts.next()?;
    let partial = match tag.split(|b| *b == b':').next() {
        Some(b"P") => true,
        Some(b"F") => false,
        _ => return None,
    };
    let content = parts.next().unwrap_or_default();
    Some(Entry {
        time,
        stream,
        partial,
        content,
    })
}

/// The bytes of `path` from `offset` on (empty if the file is missing).
pub(crate) async fn read_from(path: &Path, offset: u64) -> std::io::Result<Vec<u8>> {
    let mut file = match tokio::fs::File::open(path).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    file.seek(std::io::SeekFrom::Start(offset)).await?;
    let mut out = Vec::new();
    file.read_to_end(&mut out).await?;
    Ok(out)
}

/// Joins pieces into lines and renders them as the options say.
#[derive(Debug)]
struct Renderer {
    timestamps: bool,
    since: Option<jiff::Timestamp>,
    /// In the middle of a line made of `P` pieces: (kept by `since`, rendered so far).
    open: Option<(bool, Vec<u8>)>,
}

impl Renderer {
    /// Feeds one entry; returns a whole rendered line once it ends.
    fn push(&mut self, entry: &Entry<'_>) -> Option<Vec<u8>> {
        let (keep, mut out) = match self.open.take() {
            Some(open) => open,
            None => {
                let time: Option<jiff::Timestamp> = entry.time.parse().ok();
                let keep = match (self.since, time) {
                    (Some(since), Some(t)) => t >= since,
                    _ => true,
                };
                let mut out = Vec::new();
                if self.timestamps {
                    match time {
                        Some(t) => out.extend_from_slice(format_rfc3339_nano(t).as_bytes()),
                        None => out.extend_from_slice(entry.time.as_bytes()),
                    }
                    out.push(b' ');
                }
                (keep, out)
            }
        };
        out.extend_from_slice(entry.content);
        if entry.partial {
            self.open = Some((keep, out));
            return None;
        }
        out.push(b'\n');
        keep.then_some(out)
    }
}

/// `t` as Go's `time.RFC3339Nano` (trailing zeros of the fraction dropped), UTC.
fn format_rfc3339_nano(t: jiff::Timestamp) -> String {
    t.to_string()
}

/// The bytes still allowed by `limitBytes`.
#[derive(Debug)]
struct Limit(Option<u64>);

impl Limit {
    /// `data` cut to what is left; `None` once the limit is reached.
    fn take(&mut self, mut data: Vec<u8>) -> (Vec<u8>, bool) {
        match &mut self.0 {
            None => (data, false),
            Some(left) => {
                if data.len() as u64 >= *left {
                    data.truncate(*left as usize);
                    *left = 0;
                    (data, true)
                } else {
                    *left -= data.len() as u64;
                    (data, false)
                }
            }
        }
    }
}

/// Renders the whole of `bytes` (complete lines only); returns the rendered lines and how
/// many bytes were consumed.
fn render_all(renderer: &mut Renderer, bytes: &[u8]) -> (Vec<Vec<u8>>, usize) {
    let end = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let mut lines = Vec::new();
    for line in bytes[..end].split(|b| *b == b'\n') {
        if let Some(entry) = parse_line(line) {
            if let Some(out) = renderer.push(&entry) {
                lines.push(out);
            }
        }
    }
    (lines, end)
}

/// Streams the log at `path` into `tx` as `options` say; while following, `running` tells
/// whether the container still runs (the stream ends once it does not and the file is read).
pub(crate) async fn stream<F, Fut>(
    path: &Path,
    options: &LogOptions,
    tx: mpsc::Sender<Bytes>,
    mut running: F,
) where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let mut renderer = Renderer {
        timestamps: options.timestamps,
        since: options.since,
        open: None,
    };
    let mut limit = Limit(options.limit_bytes);
    let bytes = match read_from(path, 0).await {
        Ok(b) => b,
        Err(e) => {
            tracing::debug!(path = %path.display(), error = %e, "reading the container log failed");
            return;
        }
    };
    let (mut lines, consumed) = render_all(&mut renderer, &bytes);
    let mut offset = consumed as u64;
    if let Some(n) = options.tail_lines {
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        if lines.len() > n {
            lines.drain(..lines.len() - n);
        }
    }
    let mut send = |data: Vec<u8>| {
        let (data, done) = limit.take(data);
        (data, done)
    };
    let first: Vec<u8> = lines.concat();
    let (first, done) = send(first);
    if !first.is_empty() && tx.send(Bytes::from(first)).await.is_err() {
        return;
    }
    if done || !options.follow {
        return;
    }
    loop {
        let still_running = running().await;
        let bytes = match read_from(path, offset).await {
            Ok(b) => b,
            Err(_) => return,
        };
        let (lines, consumed) = render_all(&mut renderer, &bytes);
        offset += consumed as u64;
        let chunk = lines.concat();
        if !chunk.is_empty() {
            let (chunk, done) = send(chunk);
            if tx.send(Bytes::from(chunk)).await.is_err() || done {
                return;
            }
        }
        if !still_running {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(FOLLOW_POLL) => {}
            _ = tx.closed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(file: &str, options: LogOptions) -> String {
        let mut r = Renderer {
            timestamps: options.timestamps,
            since: options.since,
            open: None,
        };
        let (lines, _) = render_all(&mut r, file.as_bytes());
        String::from_utf8(lines.concat()).unwrap()
    }

    const FILE: &str = "2024-01-01T00:00:01.5Z stdout F one\n\
        2024-01-01T00:00:02Z stderr P tw\n\
        2024-01-01T00:00:02.1Z stderr F o\n\
        2024-01-01T00:00:03Z stdout F \n\
        2024-01-01T00:00:04Z stdout F four";

    #[test]
    fn a_line_needs_a_stream_and_an_f_or_p_tag() {
        let full = parse_line(b"2024-01-01T00:00:01Z stdout F one two").unwrap();
        assert_eq!(
            (full.stream, full.partial, full.content),
            ("stdout", false, &b"one two"[..])
        );
        assert!(
            parse_line(b"2024-01-01T00:00:01Z stderr P:x piece")
                .unwrap()
                .partial
        );
        assert_eq!(parse_line(b"2024-01-01T00:00:01Z stdout X one"), None);
        assert_eq!(parse_line(b"2024-01-01T00:00:01Z stdin F one"), None);
        assert_eq!(parse_line(b"no"), None);
    }

    #[test]
    fn strips_the_prefix_and_joins_pieces() {
        // The last line has no newline yet: it is not complete.
        assert_eq!(render(FILE, LogOptions::default()), "one\ntwo\n\n");
    }

    #[test]
    fn timestamps_prefix_each_line_once() {
        let o = LogOptions {
            timestamps: true,
            ..Default::default()
        };
        assert_eq!(
            render(FILE, o),
            "2024-01-01T00:00:01.5Z one\n2024-01-01T00:00:02Z two\n2024-01-01T00:00:03Z \n"
        );
    }

    #[test]
    fn since_keeps_lines_at_or_after() {
        let o = LogOptions {
            since: Some("2024-01-01T00:00:02Z".parse().unwrap()),
            ..Default::default()
        };
        assert_eq!(render(FILE, o), "two\n\n");
    }

    #[test]
    fn query_parsing() {
        let q = |s: &[(&str, &str)]| {
            LogOptions::from_query(
                &s.iter()
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .collect::<Vec<_>>(),
            )
        };
        let o = q(&[("follow", "true"), ("tailLines", "3"), ("limitBytes", "10")]).unwrap();
        assert!(o.follow && !o.previous);
        assert_eq!((o.tail_lines, o.limit_bytes), (Some(3), Some(10)));
        assert!(q(&[("tailLines", "-1")]).is_err());
        assert!(q(&[("follow", "maybe")]).is_err());
        assert!(q(&[("sinceTime", "2024-01-01T00:00:00Z")])
            .unwrap()
            .since
            .is_some());
    }

    #[test]
    fn limit_cuts() {
        let mut l = Limit(Some(5));
        assert_eq!(l.take(b"abc".to_vec()), (b"abc".to_vec(), false));
        assert_eq!(l.take(b"defg".to_vec()), (b"de".to_vec(), true));
    }
}
