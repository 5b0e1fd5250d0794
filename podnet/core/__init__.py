"""The pure core: the cluster model, specs and topology files, naming, addresses, planning.

Nothing here needs root or touches the kernel, and nothing imports mininet, pyroute2 or scapy:
every other layer builds on these types and rules."""
