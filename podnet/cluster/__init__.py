"""The Mininet side of a lab: nodes, Pods and the underlay switch as Mininet nodes, and the CLI."""
