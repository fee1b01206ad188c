//! The scheduling framework: [`Status`]/[`Code`], [`CycleState`], one trait per extension point,
//! and [`Framework`], the plugins of one profile in the order they run.
//!
//! ```text
//! QueueSort → PreFilter → Filter (per node) → PostFilter (if no node fits)
//!           → PreScore → Score → NormalizeScore (× weight) → Reserve → Permit
//!           → PreBind → Bind → PostBind            (Unreserve on any failure after Reserve)
//! ```
//!
//! Permit may answer `Wait` (with a timeout per plugin, capped at
//! [`MAX_PERMIT_TIMEOUT`](crate::waiting_pods::MAX_PERMIT_TIMEOUT)): the pod then becomes a
//! [`WaitingPod`] in the framework's [`WaitingPods`] and the scheduling cycle ends with the pod
//! assumed; the binding cycle awaits [`Framework::wait_on_permit`] before PreBind. Plugins
//! allow or reject waiting pods through [`Handle::waiting_pods`](crate::plugins::Handle).
//!
//! Every plugin implements [`Plugin`] and states the extension points it serves once, as an
//! [`ExtensionPoints`] value (`ExtensionPoints::of(self).filter().score().into()`), so one
//! plugin instance can serve several points (as upstream) without per-point boilerplate.
//!
//! The parts, one file each (every item is re-exported here):
//!
//! * [`status`]: [`Status`] and [`Code`];
//! * [`cycle_state`]: [`CycleState`] and the [`StateData`] kept in it;
//! * [`plugins`]: the base [`Plugin`] trait and one trait per extension point, with the values
//!   they exchange ([`NodeScore`], [`PreFilterResult`], [`NodeToStatus`], ...);
//! * [`extension_points`]: [`ExtensionPoints`], the points one plugin instance serves;
//! * [`runtime`]: [`Framework`], which runs the extension points in order.

pub mod cycle_state;
pub mod extension_points;
pub mod plugins;
pub mod runtime;
pub mod status;

pub use crate::waiting_pods::{WaitingPod, WaitingPods};
pub use cycle_state::{CycleState, StateData};
pub use extension_points::{ExtensionPoints, ExtensionPointsOf};
pub use plugins::{
    default_normalize_score, BindPlugin, FilterPlugin, NodeScore, NodeToStatus, PermitPlugin,
    Plugin, PostBindPlugin, PostFilterPlugin, PostFilterResult, PreBindPlugin, PreFilterPlugin,
    PreFilterResult, PreScorePlugin, QueueSortPlugin, QueuedPodInfo, ReservePlugin, ScorePlugin,
    MAX_NODE_SCORE, MIN_NODE_SCORE,
};
pub use runtime::{Framework, PluginEntry};
pub use status::{Code, Status};
