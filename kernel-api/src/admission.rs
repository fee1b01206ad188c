//! Admission: pluggable mutating and validating checks on writes (upstream's admission chain).
//!
//! A write runs: decode → defaulting → **mutating admission** → strategy prepare (system
//! metadata, `PrepareForCreate`/`PrepareForUpdate`) → validation → **validating admission** →
//! storage, as upstream (see `handlers/write.rs`). Mutating plugins therefore see an object
//! without `uid`, `creationTimestamp` or a name generated from `generateName` (the request's
//! name is then empty); validating plugins see the object as it will be stored. Implement [`Admission`] and pass it to
//! [`ApiServerBuilder::admission`](crate::ApiServerBuilder::admission); several plugins combine
//! with [`AdmissionChain`].

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use crate::auth::UserInfo;
use crate::status::Result;

/// The operation being admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// A create.
    Create,
    /// An update, patch or apply.
    Update,
    /// A delete.
    Delete,
}

/// What is being admitted (`admission.Attributes`).
#[derive(Clone, Debug)]
pub struct AdmissionRequest {
    /// The operation.
    pub operation: Operation,
    /// API group of the resource.
    pub group: String,
    /// API version.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// Resource (`pods`).
    pub resource: String,
    /// Subresource, or empty.
    pub subresource: String,
    /// Namespace, or empty.
    pub namespace: String,
    /// Object name.
    pub name: String,
    /// The requesting user.
    pub user: UserInfo,
    /// True when the request is a dry run.
    pub dry_run: bool,
}

/// An admission plugin. Both methods default to admitting unchanged.
#[async_trait]
pub trait Admission: Send + Sync + 'static {
    /// Mutating phase: may change `object`. An error rejects the request (use
    /// [`Error::Forbidden`](crate::Error::Forbidden) or [`Error::Invalid`](crate::Error::Invalid)).
    async fn mutate(&self, request: &AdmissionRequest, object: &mut Value) -> Result<()> {
        let _ = (request, object);
        Ok(())
    }

    /// Validating phase: may only accept or reject. `old` is the stored object on update/delete.
    async fn validate(
        &self,
        request: &AdmissionRequest,
        object: &Value,
        old: Option<&Value>,
    ) -> Result<()> {
        let _ = (request, object, old);
        Ok(())
    }
}

/// A shared plugin is a plugin: the caller can keep an `Arc` to it (to read what it recorded,
/// or to register one instance in several servers).
#[async_trait]
impl<A: Admission + ?Sized> Admission for Arc<A> {
    async fn mutate(&self, request: &AdmissionRequest, object: &mut Value) -> Result<()> {
        (**self).mutate(request, object).await
    }

    async fn validate(
        &self,
        request: &AdmissionRequest,
        object: &Value,
        old: Option<&Value>,
    ) -> Result<()> {
        (**self).validate(request, object, old).await
    }
}

/// Admits everything.
#[derive(Clone, Copy, Debug, Default)]
pub struct AlwaysAdmit;

impl Admission for AlwaysAdmit {}

/// Plugins run in order: every mutating phase, then every validating phase.
#[derive(Clone, Default)]
pub struct AdmissionChain {
    plugins: Vec<Arc<dyn Admission>>,
}

impl std::fmt::Debug for AdmissionChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdmissionChain")
            .field("plugins", &self.plugins.len())
            .finish()
    }
}

impl AdmissionChain {
    /// An empty chain.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a plugin.
    pub fn with(mut self, plugin: impl Admission) -> Self {
        self.plugins.push(Arc::new(plugin));
        self
    }

    /// Appends a shared plugin.
    pub fn push(&mut self, plugin: Arc<dyn Admission>) {
        self.plugins.push(plugin);
    }
}

#[async_trait]
impl Admission for AdmissionChain {
    async fn mutate(&self, request: &AdmissionRequest, object: &mut Value) -> Result<()> {
        for plugin in &self.plugins {
            plugin.mutate(request, object).await?;
        }
        Ok(())
    }

    async fn validate(
        &self,
        request: &AdmissionRequest,
        object: &Value,
        old: Option<&Value>,
    ) -> Result<()> {
        for plugin in &self.plugins {
            plugin.validate(request, object, old).await?;
        }
        Ok(())
    }
}
