"""Run the podnet command line: ``python -m podnet``."""

from podnet.cli.main import main

raise SystemExit(main())
