"""The container images of the lab's Pods (agnhost-style echo, CoreDNS-style DNS), as one
stdlib-only program started inside a Pod's namespace."""
