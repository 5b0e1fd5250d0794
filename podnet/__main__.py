"""Run the podnet command line: ``python -m podnet``."""

from podnet import run

raise SystemExit(run())
