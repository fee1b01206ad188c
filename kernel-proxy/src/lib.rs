//! # kernel-proxy
//!
//! Will own kube-proxy: it watches Services and EndpointSlices and programs a dataplane (iptables or nftables in production, a userspace load balancer embedded) so that traffic to a ClusterIP reaches a ready pod.
//!
//! It reaches the cluster only through `kube::Client` — in-process over the API server's tower
//! service or over HTTPS — exactly as the upstream component reaches kube-apiserver.
//! Nothing is implemented yet; see the project's issues.
