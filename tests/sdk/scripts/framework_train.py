"""A script-mode training program for the framework estimators (PyTorch, SKLearn): it reads
the toolkit's arguments and channels and prints an MXNet-style `Validation-accuracy=` line
per epoch. It imports nothing beyond the standard library, so no framework is needed."""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", "--num_epoch", dest="epochs", type=int, default=2)
    parser.add_argument("--learning_rate", type=float, default=0.1)
    parser.add_argument("--optimizer", default="sgd")
    parser.add_argument("--batch_size", type=int, default=100)
    args = parser.parse_args()
    channel = Path(os.environ.get("SM_CHANNEL_TRAIN", "/nonexistent"))
    rows = sum(len(p.read_text().splitlines()) for p in channel.rglob("*.csv"))
    print(f"rows={rows} optimizer={args.optimizer}", flush=True)
    bonus = 0.05 if args.optimizer == "Adam" else 0.0
    for epoch in range(1, args.epochs + 1):
        accuracy = 0.9 - abs(math.log10(args.learning_rate) + 1.0) / 4 + bonus + epoch / 100
        print(f"Epoch[{epoch}] Validation-accuracy={accuracy:.4f}", flush=True)
    Path(os.environ["SM_MODEL_DIR"], "model.txt").write_text(f"{args.learning_rate}\n")


if __name__ == "__main__":
    main()
