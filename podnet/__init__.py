"""podnet: the Kubernetes network model, emulated with Mininet on one Linux machine.

Every Pod gets its own network namespace and its own IP, reachable from every other Pod
without NAT, wired by a real CNI plugin and routed between emulated nodes by a small
controller. See README.md for the tour.
"""

__version__ = "0.1.0"
