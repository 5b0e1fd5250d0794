"""kube-proxy in iptables mode and ip-masq-agent: rendered as data, applied per node."""
