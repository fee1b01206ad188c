//! # kernel-core: the API machinery every component shares
//!
//! kernel-core is kube-in-a-library's counterpart of `k8s.io/apimachinery` and
//! `k8s.io/component-helpers`: the small, pure pieces of Kubernetes semantics that the API
//! server, the scheduler, the kubelet, the controllers and the proxy must all agree on. It does
//! no I/O, spawns nothing, holds no clock and no random generator; it depends only on
//! `k8s-openapi` (the wire types), `serde`, `serde_json` and `thiserror`.
//!
//! **Architecture note: components depend on kernel-core, never on kernel-api.** A kubelet
//! must not compile an API server to parse a selector; the API server itself uses these same
//! functions, so a selector or a quantity means the same thing on both sides of the wire.
//!
//! ## Modules
//!
//! * [`labels`]: label selectors ([`labels::Selector`]: the `a=b,c!=d,e in (x,y),!f` syntax,
//!   `metav1.LabelSelector` conversion, matching, canonical `Display`) and compiled node
//!   selectors ([`labels::NodeSelector`]).
//! * [`fields`]: field selectors and escaping; [`fields::FieldError`] and [`fields::Path`], the
//!   `field.ErrorList` of validation.
//! * [`quantity`]: [`quantity::Quantity`], exact resource amounts with upstream's parsing,
//!   rounding, arithmetic and formatting.
//! * [`names`]: DNS-1123/1035 names, qualified names, label values, config map keys,
//!   `generateName`.
//! * [`well_known`]: well-known label, taint and annotation keys.
//! * [`scheduling`]: tolerations vs. taints, a pod's required and preferred node affinity.
//! * [`pod`]: effective pod requests and limits (sidecars, init containers, overhead), QoS
//!   class, resource-name predicates, priority.
//! * [`duration`]: Go's `time.Duration` text form (`1m30s`), printed and parsed.
//! * [`Error`]: the crate's one error type.
//!
//! ## Kubernetes version (k8s-openapi)
//!
//! The wire types are [k8s-openapi](https://docs.rs/k8s-openapi)'s, which is told the Kubernetes
//! version by a feature that exactly one crate must pick: your binary. Following k8s-openapi's
//! rule for libraries, this crate picks none, so a binary using it adds
//!
//! ```toml
//! k8s-openapi = { version = "0.29", features = ["v1_33"] }
//! ```
//!
//! Supported: `v1_33`, the release whose behaviour this project is compared against and the one
//! its tests, examples and the docs on docs.rs use. The library crates also compile against
//! `v1_34` to `v1_37`, k8s-openapi 0.29's other versions (it has none before `v1_33`), but their
//! tests run on `v1_33` only.
//!
//! ## Example
//!
//! ```
//! use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
//! use kernel_core::labels::{Labels, Selector};
//! use kernel_core::quantity::Quantity;
//!
//! // A metav1.LabelSelector, as a Deployment carries it.
//! let sel = Selector::from_meta(&LabelSelector {
//!     match_labels: Some([("app".to_string(), "web".to_string())].into()),
//!     match_expressions: None,
//! })?;
//! let pod_labels: Labels = [("app".to_string(), "web".to_string())].into();
//! assert!(sel.matches(&pod_labels));
//! assert_eq!(sel.to_string(), "app=web");
//!
//! // The same selector in the string syntax `kubectl get -l` uses.
//! assert_eq!(Selector::parse("app=web")?, sel);
//!
//! // Quantities are exact and format like upstream.
//! let cpu: Quantity = "1.5".parse()?;
//! assert_eq!(cpu.milli_value(), 1500);
//! assert_eq!(cpu.to_string(), "1500m");
//! # Ok::<(), kernel_core::Error>(())
//! ```

pub mod duration;
mod error;
pub mod fields;
pub mod labels;
pub mod names;
pub mod pod;
pub mod quantity;
pub mod scheduling;
pub mod well_known;

pub use error::{Error, QuantityError, Result};
