"""The ``podnet`` command: one small module per verb group and a dispatcher. The only layer
that prints, exits and checks for root."""
