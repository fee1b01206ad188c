//! # kernel-controllers
//!
//! Will own the controller manager (deployment, replicaset, endpointslice, namespace, node lifecycle, garbage collector, job, cronjob, … controllers built on kube-runtime) and the cloud controller manager behind a `CloudProvider` trait.
//!
//! It reaches the cluster only through `kube::Client` — in-process over the API server's tower
//! service or over HTTPS — exactly as the upstream component reaches kube-apiserver.
//! Nothing is implemented yet; see the project's issues.
