"""A small Kubernetes API server for every lab: what kubectl needs, on the lab's one state."""
