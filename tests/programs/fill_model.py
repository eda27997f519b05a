"""Fills its model directory with one huge file (sparse: MEGABYTES of zeros that take no disk)
and a small real one, then exits 0. `fill_model.py MEGABYTES` (default 200)."""

import os
import sys
from pathlib import Path

megabytes = int(sys.argv[1]) if len(sys.argv) > 1 else 200
model = Path(os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))
with (model / "huge.bin").open("wb") as fh:
    fh.truncate(megabytes * 1024 * 1024)
(model / "weights.txt").write_text("0.1 0.2 0.3\n")
print(f"READY {os.getpid()} wrote {megabytes} MB", flush=True)
