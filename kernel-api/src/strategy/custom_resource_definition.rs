//! The strategy of apiextensions.k8s.io/v1 CustomResourceDefinition (`customresourcedefinitions`): upstream's `staging/src/k8s.io/apiextensions-apiserver/pkg/registry/customresourcedefinition/strategy.go`.

use crate::strategy::Strategy;

/// The CustomResourceDefinition strategy.
#[derive(Debug)]
pub(crate) struct CustomResourceDefinition;

impl Strategy for CustomResourceDefinition {}
