"""Node IPAM: kube-controller-manager's range allocator, handing every node a podCIDR."""
