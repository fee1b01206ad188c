//! [`ExtensionPoints`]: which extension points one plugin instance serves, stated once by the
//! plugin in [`Plugin::extension_points`] and read by the [`Framework`](super::Framework) and
//! the configuration (upstream registers a plugin at every point whose interface it
//! implements; Rust cannot ask a `dyn Plugin` which traits it has, so the plugin says so).
//!
//! ```
//! use std::sync::Arc;
//! use kernel_sched::framework::{
//!     CycleState, ExtensionPoints, FilterPlugin, Plugin, PreFilterPlugin, PreFilterResult,
//!     Status,
//! };
//! use kernel_sched::{NodeInfo, PodInfo, Snapshot};
//!
//! struct OddNodes;
//!
//! impl Plugin for OddNodes {
//!     fn name(&self) -> &'static str {
//!         "OddNodes"
//!     }
//!     fn extension_points(self: Arc<Self>) -> ExtensionPoints {
//!         ExtensionPoints::of(self).pre_filter().filter().into()
//!     }
//! }
//! # impl PreFilterPlugin for OddNodes {
//! #     fn pre_filter(&self, _: &mut CycleState, _: &PodInfo, _: &Snapshot)
//! #         -> (Option<PreFilterResult>, Status) { (None, Status::success()) }
//! # }
//! # impl FilterPlugin for OddNodes {
//! #     fn filter(&self, _: &CycleState, _: &PodInfo, _: &NodeInfo) -> Status { Status::success() }
//! # }
//!
//! let points = Arc::new(OddNodes).extension_points();
//! assert_eq!(points.name(), "OddNodes");
//! assert_eq!(points.points(), ["PreFilter", "Filter"]);
//! ```

use std::fmt;
use std::sync::Arc;

use super::plugins::*;

/// The extension points one plugin instance serves (see the module docs). Build it with
/// [`ExtensionPoints::of`].
#[derive(Clone)]
pub struct ExtensionPoints {
    pub(crate) plugin: Arc<dyn Plugin>,
    pub(crate) queue_sort: Option<Arc<dyn QueueSortPlugin>>,
    pub(crate) pre_filter: Option<Arc<dyn PreFilterPlugin>>,
    pub(crate) filter: Option<Arc<dyn FilterPlugin>>,
    pub(crate) post_filter: Option<Arc<dyn PostFilterPlugin>>,
    pub(crate) pre_score: Option<Arc<dyn PreScorePlugin>>,
    pub(crate) score: Option<Arc<dyn ScorePlugin>>,
    pub(crate) reserve: Option<Arc<dyn ReservePlugin>>,
    pub(crate) permit: Option<Arc<dyn PermitPlugin>>,
    pub(crate) pre_bind: Option<Arc<dyn PreBindPlugin>>,
    pub(crate) bind: Option<Arc<dyn BindPlugin>>,
    pub(crate) post_bind: Option<Arc<dyn PostBindPlugin>>,
}

impl ExtensionPoints {
    /// Starts the extension points of `plugin`: chain one method per point it implements
    /// (each requires the matching trait), then convert with `.into()`.
    pub fn of<P: Plugin>(plugin: Arc<P>) -> ExtensionPointsOf<P> {
        ExtensionPointsOf {
            points: ExtensionPoints {
                plugin: plugin.clone(),
                queue_sort: None,
                pre_filter: None,
                filter: None,
                post_filter: None,
                pre_score: None,
                score: None,
                reserve: None,
                permit: None,
                pre_bind: None,
                bind: None,
                post_bind: None,
            },
            plugin,
        }
    }

    /// The plugin.
    pub fn plugin(&self) -> &Arc<dyn Plugin> {
        &self.plugin
    }

    /// The plugin's name.
    pub fn name(&self) -> &'static str {
        self.plugin.name()
    }

    /// The upstream names of the points served (`"PreFilter"`, `"Filter"`, ...), in the order
    /// they run.
    pub fn points(&self) -> Vec<&'static str> {
        [
            ("QueueSort", self.queue_sort.is_some()),
            ("PreFilter", self.pre_filter.is_some()),
            ("Filter", self.filter.is_some()),
            ("PostFilter", self.post_filter.is_some()),
            ("PreScore", self.pre_score.is_some()),
            ("Score", self.score.is_some()),
            ("Reserve", self.reserve.is_some()),
            ("Permit", self.permit.is_some()),
            ("PreBind", self.pre_bind.is_some()),
            ("Bind", self.bind.is_some()),
            ("PostBind", self.post_bind.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, served)| served.then_some(name))
        .collect()
    }
}

impl fmt::Debug for ExtensionPoints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExtensionPoints")
            .field("plugin", &self.name())
            .field("points", &self.points())
            .finish()
    }
}

/// [`ExtensionPoints`] being stated for a plugin of type `P` (from [`ExtensionPoints::of`]);
/// each method registers the plugin at one point and requires `P` to implement its trait.
pub struct ExtensionPointsOf<P> {
    plugin: Arc<P>,
    points: ExtensionPoints,
}

impl<P: Plugin> ExtensionPointsOf<P> {
    /// QueueSort.
    pub fn queue_sort(mut self) -> Self
    where
        P: QueueSortPlugin,
    {
        self.points.queue_sort = Some(self.plugin.clone());
        self
    }

    /// PreFilter (with its AddPod/RemovePod extensions).
    pub fn pre_filter(mut self) -> Self
    where
        P: PreFilterPlugin,
    {
        self.points.pre_filter = Some(self.plugin.clone());
        self
    }

    /// Filter.
    pub fn filter(mut self) -> Self
    where
        P: FilterPlugin,
    {
        self.points.filter = Some(self.plugin.clone());
        self
    }

    /// PostFilter.
    pub fn post_filter(mut self) -> Self
    where
        P: PostFilterPlugin,
    {
        self.points.post_filter = Some(self.plugin.clone());
        self
    }

    /// PreScore.
    pub fn pre_score(mut self) -> Self
    where
        P: PreScorePlugin,
    {
        self.points.pre_score = Some(self.plugin.clone());
        self
    }

    /// Score (with NormalizeScore).
    pub fn score(mut self) -> Self
    where
        P: ScorePlugin,
    {
        self.points.score = Some(self.plugin.clone());
        self
    }

    /// Reserve (with Unreserve).
    pub fn reserve(mut self) -> Self
    where
        P: ReservePlugin,
    {
        self.points.reserve = Some(self.plugin.clone());
        self
    }

    /// Permit.
    pub fn permit(mut self) -> Self
    where
        P: PermitPlugin,
    {
        self.points.permit = Some(self.plugin.clone());
        self
    }

    /// PreBind.
    pub fn pre_bind(mut self) -> Self
    where
        P: PreBindPlugin,
    {
        self.points.pre_bind = Some(self.plugin.clone());
        self
    }

    /// Bind.
    pub fn bind(mut self) -> Self
    where
        P: BindPlugin,
    {
        self.points.bind = Some(self.plugin.clone());
        self
    }

    /// PostBind.
    pub fn post_bind(mut self) -> Self
    where
        P: PostBindPlugin,
    {
        self.points.post_bind = Some(self.plugin.clone());
        self
    }
}

impl<P: Plugin> From<ExtensionPointsOf<P>> for ExtensionPoints {
    fn from(b: ExtensionPointsOf<P>) -> Self {
        b.points
    }
}
