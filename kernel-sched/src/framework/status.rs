//! [`Status`] and [`Code`]: the outcome of every plugin call (upstream `framework.Status`).

use std::borrow::Cow;
use std::fmt;

/// The outcome code of a plugin call, as upstream `framework.Code`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Code {
    /// The plugin ran and the pod may go on.
    Success,
    /// An internal error: the pod is retried with backoff.
    Error,
    /// The pod does not fit; preemption might help.
    Unschedulable,
    /// The pod does not fit and preemption would not help on this node.
    UnschedulableAndUnresolvable,
    /// A Permit plugin asks the pod to wait.
    Wait,
    /// The plugin has nothing to do for this pod (PreFilter/PreScore): its Filter/Score is skipped.
    Skip,
    /// The pod waits for something outside the scheduler (treated as Unschedulable).
    Pending,
}

/// The result of a plugin call: a code, reasons, and the plugin that produced it.
///
/// A successful status does not allocate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub(crate) code: Code,
    pub(crate) reasons: Vec<Cow<'static, str>>,
    pub(crate) plugin: &'static str,
}

impl Default for Status {
    fn default() -> Self {
        Status::success()
    }
}

impl Status {
    /// `Success`.
    pub const fn success() -> Self {
        Status {
            code: Code::Success,
            reasons: Vec::new(),
            plugin: "",
        }
    }

    /// A status with one reason.
    pub fn new(code: Code, reason: impl Into<Cow<'static, str>>) -> Self {
        Status {
            code,
            reasons: vec![reason.into()],
            plugin: "",
        }
    }

    /// A status with no reason.
    pub fn from_code(code: Code) -> Self {
        Status {
            code,
            reasons: Vec::new(),
            plugin: "",
        }
    }

    /// An `Unschedulable` status.
    pub fn unschedulable(reason: impl Into<Cow<'static, str>>) -> Self {
        Status::new(Code::Unschedulable, reason)
    }

    /// An `UnschedulableAndUnresolvable` status.
    pub fn unresolvable(reason: impl Into<Cow<'static, str>>) -> Self {
        Status::new(Code::UnschedulableAndUnresolvable, reason)
    }

    /// An `Error` status.
    pub fn error(reason: impl Into<Cow<'static, str>>) -> Self {
        Status::new(Code::Error, reason)
    }

    /// `Skip`.
    pub fn skip() -> Self {
        Status::from_code(Code::Skip)
    }

    /// Adds a reason.
    pub fn with_reason(mut self, reason: impl Into<Cow<'static, str>>) -> Self {
        self.reasons.push(reason.into());
        self
    }

    /// Records which plugin produced the status.
    pub fn with_plugin(mut self, plugin: &'static str) -> Self {
        self.plugin = plugin;
        self
    }

    /// The code.
    pub fn code(&self) -> Code {
        self.code
    }

    /// The reasons.
    pub fn reasons(&self) -> &[Cow<'static, str>] {
        &self.reasons
    }

    /// The plugin that failed (empty for success).
    pub fn plugin(&self) -> &'static str {
        self.plugin
    }

    /// The reasons joined by `", "`.
    pub fn message(&self) -> String {
        self.reasons.join(", ")
    }

    /// `Success`.
    pub fn is_success(&self) -> bool {
        self.code == Code::Success
    }

    /// `Skip`.
    pub fn is_skip(&self) -> bool {
        self.code == Code::Skip
    }

    /// `Unschedulable`, `UnschedulableAndUnresolvable` or `Pending`.
    pub fn is_rejected(&self) -> bool {
        matches!(
            self.code,
            Code::Unschedulable | Code::UnschedulableAndUnresolvable | Code::Pending
        )
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.code)?;
        if !self.reasons.is_empty() {
            write!(f, ": {}", self.message())?;
        }
        Ok(())
    }
}
