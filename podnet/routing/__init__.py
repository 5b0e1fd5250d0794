"""Routing backends: functions from cluster state to the routes each node should hold."""
