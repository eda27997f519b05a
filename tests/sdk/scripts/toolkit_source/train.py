"""A script-mode training program for the toolkit image: AWS's training toolkit (`train`)
downloads it from S3 and runs it with the tuned hyperparameters as arguments. Its (nearly
flat) curve peaks at learning_rate 0.01, so Auto early stopping has losers to stop."""

from __future__ import annotations

import argparse
import math
import os
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--learning_rate", type=float, default=0.01)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--sleep", type=float, default=0.3)
    args = parser.parse_args()
    channel = Path(os.environ["SM_CHANNEL_TRAIN"])
    rows = sum(len(p.read_text().splitlines()) for p in channel.rglob("*.csv"))
    inside = Path("/run/.containerenv").exists() or Path("/.dockerenv").exists()
    print(f"rows={rows} hosts={os.environ['SM_HOSTS']} in_container={inside}", flush=True)
    quality = max(0.05, 1 - abs(math.log10(args.learning_rate) + 2) / 3)
    for epoch in range(1, args.epochs + 1):
        accuracy = quality + epoch / 1000
        print(f"epoch={epoch} validation:accuracy={accuracy:.4f}", flush=True)
        time.sleep(args.sleep)
    Path(os.environ["SM_MODEL_DIR"], "model.txt").write_text(f"{args.learning_rate}\n")


if __name__ == "__main__":
    main()
