"""``python3 -m bridge.config [--write FILE]``: print the key reference, or refresh a file."""

import sys

from bridge.config.reference import main

raise SystemExit(main(sys.argv[1:]))
