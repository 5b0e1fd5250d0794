"""Probes: real packets that prove (or disprove) what the network model promises."""
