"""``python3 -m econnect_bridge.config [--write FILE]``: print the key reference, or write it."""

import sys

from econnect_bridge.config.reference import main

raise SystemExit(main(sys.argv[1:]))
