"""Run the podnet command line: ``python -m podnet``."""

from podnet.cli import main

raise SystemExit(main())
