"""The PNG of `amt simulate --compare`: cost against quality, one colour per variant.

Each seed's run is a small dot at (billable hours, best objective); each variant's medians a
large marker named in the legend (the request as given: a diamond). Where a variant sits
against the request as given answers the question at a glance: left is cheaper, up (for a
Maximize objective) better.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from emulator.simulator.compare import Row
from emulator.simulator.report import require_matplotlib


def write_compare_plot(rows: Sequence[Row], path: Path, metric: str, title: str) -> None:
    """Billable hours against best objective per seed and variant (needs matplotlib)."""
    require_matplotlib()
    import matplotlib.pyplot as plt  # noqa: PLC0415 - matplotlib is optional and slow to import

    fig, ax = plt.subplots(figsize=(8, 5))
    colours = plt.get_cmap("tab10")
    for i, row in enumerate(rows):
        colour = colours(i % 10)
        runs = [(t.billable_seconds / 3600, t.best) for t in row.trials if t.best is not None]
        ax.scatter(
            [hours for hours, _ in runs],
            [best for _, best in runs],
            color=colour,
            s=12,
            alpha=0.5,
        )
        if row.best is None or row.billable_seconds is None:
            continue
        x, y = row.billable_seconds.median / 3600, row.best.median
        ax.scatter([x], [y], color=colour, s=90, marker="D" if i == 0 else "o", label=row.label)
    ax.set_xlabel("billable training time (hours)")
    ax.set_ylabel(f"best {metric}")
    ax.set_title(title)
    ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
