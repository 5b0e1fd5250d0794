"""The Kubernetes components, one package each, named as Kubernetes names them.

Each splits into a pure half (desired state computed from the cluster model, as data) and a
thin kernel half that applies it through :mod:`podnet.kernel`. The control plane
(:mod:`~podnet.k8s.workloads`, :mod:`~podnet.k8s.ipam`) is below the node agents (kubelet and
CNI, routing, kube-proxy, DNS, the policy agent), which never import each other."""
