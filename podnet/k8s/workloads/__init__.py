"""The control plane for workloads: the API server's validation and allocators, the
Deployment, endpoints and scheduling controllers. Pure."""
