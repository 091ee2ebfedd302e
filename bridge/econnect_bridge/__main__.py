"""Run the command line as `python -m econnect_bridge`."""

from econnect_bridge.cli import main

raise SystemExit(main())
