"""Exits with the given code before printing anything: `exit_early.py CODE`."""

import sys

sys.exit(int(sys.argv[1]))
