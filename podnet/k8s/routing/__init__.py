"""Routing between nodes: flannel's host-gw and vxlan backends, static neighbours, and the
route controller that makes every node's kernel agree with them."""
