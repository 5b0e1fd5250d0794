"""Fixtures of the k8s tests: the NetworkPolicy lab (module-scoped: each module asking for
``np`` brings up a lab of its own, and takes it down)."""

from tests.support.policy_lab import netlab, np  # noqa: F401  (fixtures, found by name)
