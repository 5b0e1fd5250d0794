"""Orchestration: a lab is an ordered list of component reconcilers, driven by up, apply,
delete, a CNI install, a routing switch, sync and down."""
