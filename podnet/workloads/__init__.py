"""Workloads: Kubernetes manifests, the controllers that turn them into Pods, and Endpoints."""
