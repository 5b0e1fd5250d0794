"""The policy agent's seat: NetworkPolicy enforcement (kube-router / Calico iptables mode)."""
