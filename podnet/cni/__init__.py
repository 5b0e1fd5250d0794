"""CNI: the network configuration a node's runtime reads, and the runtime that runs plugins."""
