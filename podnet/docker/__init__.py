"""The single-host contrast: Docker's default bridge network on every machine."""
