"""Kernel adapters: the only code that touches Linux (namespaces, netlink, iptables, the
Mininet nodes and underlay, processes by namespace, the lab's state file)."""
