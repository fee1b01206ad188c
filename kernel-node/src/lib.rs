//! # kernel-node
//!
//! Will own the kubelet: it watches the pods bound to its node and runs them through a `Runtime` (CRI/containerd in production, local processes embedded, simulated for scale tests) and a `NetworkPlugin` (CNI), probing them and reporting pod and node status.
//!
//! It reaches the cluster only through `kube::Client` — in-process over the API server's tower
//! service or over HTTPS — exactly as the upstream component reaches kube-apiserver.
//! Nothing is implemented yet; see the project's issues.
