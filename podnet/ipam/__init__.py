"""Address management: node Pod CIDRs (controller side) and Pod IPs (CNI IPAM side)."""
