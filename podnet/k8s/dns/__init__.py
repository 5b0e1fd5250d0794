"""Cluster DNS: the CoreDNS add-on behind kube-dns, its records and the Pods' resolv.conf."""
