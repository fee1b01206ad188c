"""Drives a kube-in-a-library API server with the official Python `kubernetes` client.

Usage: python3 list_watch_pods.py KUBECONFIG NAMESPACE

Creates pods, lists them, watches from the list's resourceVersion while more are created, and
deletes one; prints `ok <summary>` and exits 0 only if the server behaved as Kubernetes does.
"""
import sys
import threading

from kubernetes import client, config, watch


def pod(name):
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels={"app": "py"}),
        spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="busybox:1")]),
    )


def main():
    kubeconfig, namespace = sys.argv[1], sys.argv[2]
    config.load_kube_config(config_file=kubeconfig)
    core = client.CoreV1Api()
    for i in range(3):
        core.create_namespaced_pod(namespace, pod(f"before-{i}"))
    listed = core.list_namespaced_pod(namespace, label_selector="app=py")
    names = sorted(p.metadata.name for p in listed.items)
    assert names == ["before-0", "before-1", "before-2"], names
    assert listed.items[0].spec.restart_policy == "Always", "server-side defaulting"
    version = listed.metadata.resource_version

    seen = []

    def follow():
        w = watch.Watch()
        for event in w.stream(core.list_namespaced_pod, namespace, resource_version=version, timeout_seconds=20):
            seen.append((event["type"], event["object"].metadata.name))
            if len(seen) == 3:
                w.stop()

    watcher = threading.Thread(target=follow)
    watcher.start()
    core.create_namespaced_pod(namespace, pod("during-0"))
    core.create_namespaced_pod(namespace, pod("during-1"))
    core.delete_namespaced_pod("before-0", namespace, grace_period_seconds=0)
    watcher.join(timeout=30)
    assert seen == [("ADDED", "during-0"), ("ADDED", "during-1"), ("DELETED", "before-0")], seen

    try:
        core.read_namespaced_pod("missing", namespace)
        raise AssertionError("reading a missing pod must fail")
    except client.exceptions.ApiException as e:
        assert e.status == 404, e.status
    print(f"ok listed={len(names)} watched={seen}")


if __name__ == "__main__":
    main()
