"""Services: virtual IPs and node ports, and the kube-proxy and ip-masq-agent rules behind them."""
