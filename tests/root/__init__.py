"""Root integration tests: real namespaces, real CNI plugins, real packets (need root)."""
