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
//! * [`names`]: DNS-1123/1035 names, qualified names, label values, config map keys,
//!   `generateName`.
//! * [`Error`]: the crate's one error type.
//!
//! ## Example
//!
//! ```
//! use kernel_core::fields::Selector;
//! use kernel_core::names::is_dns1123_label;
//!
//! assert!(is_dns1123_label("web-0").is_empty());
//! let sel: Selector = "spec.nodeName=n1".parse()?;
//! assert_eq!(sel.to_string(), "spec.nodeName=n1");
//! # Ok::<(), kernel_core::Error>(())
//! ```

mod error;
pub mod fields;
pub mod labels;
pub mod names;

pub use error::{Error, QuantityError, Result};
