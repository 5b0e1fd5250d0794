"""The kubelet and its container runtime: Pod sandboxes (CNI ADD/DEL), node readiness,
and the processes that play the containers."""
