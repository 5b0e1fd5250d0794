"""CNI: the conflists a node's CNI DaemonSet writes, the runtime that executes plugins, and
podnet's in-process plugins (builtin bridge, VPC-native) with host-local IPAM."""
