"""Helpers shared by podnet's tests: processes, labs, packets, captures, host snapshots."""
