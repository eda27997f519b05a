"""Writes megabytes to stdout without a single newline, then one short line, and exits 0.
`flood_stdout.py MEGABYTES` (default 32)."""

import os
import sys

megabytes = int(sys.argv[1]) if len(sys.argv) > 1 else 32
block = b"x" * (1024 * 1024)
out = sys.stdout.buffer
for _ in range(megabytes):
    out.write(block)
out.write(f"\nDONE {os.getpid()}\n".encode())
out.flush()
