"""How far to trust a replay of a curve set: its size and its replay error, measured once.

Both replays are measured on runs they did not see, on the final value of the set's objective
(`objective.MetricName` of an imported set's manifest, else its `epoch_metric`):
nearest-neighbour by leave-one-out (`curves.leave_one_out_error`), the surrogate by 10-fold
cross-validation (`surrogate.cross_validated_error`), beside the error of always answering the
mean. A set of a few runs measures little; the run count says so.

Cross-validation fits ten Gaussian processes: seconds for a few dozen runs, a minute or more
for the 300 of a bundled set on 2 cores. `amt curves import` measures once and keeps the
numbers in the manifest (`replay_error`, with the number of runs they were measured on);
`measured` reuses them while the set still has that many runs.
"""

from __future__ import annotations

from typing import Any

from emulator.simulator.curves import CurveSet, encoded_finals, leave_one_out_error, space_of


def objective_metric(manifest: dict[str, Any]) -> str | None:
    """The metric a set's replay error is measured on."""
    objective = manifest.get("objective") or {}
    return objective.get("MetricName") or manifest.get("epoch_metric")


def replay_error(curve_set: CurveSet) -> dict[str, Any]:
    """Runs measured, and each replay's mean absolute error and Spearman correlation of the
    final objective (NoRecordedCurve, KeyError or ValueError when it cannot be measured)."""
    metric = objective_metric(curve_set.manifest)
    if not metric:
        raise KeyError("the manifest names no objective or epoch_metric")
    space = space_of(curve_set.manifest)
    nearest = leave_one_out_error(curve_set, space, metric)
    points, finals = encoded_finals(curve_set, space, metric)
    from emulator.simulator.surrogate import (  # noqa: PLC0415 - scikit-learn and scipy.stats cost about a second to import: only measuring needs them, not `amt`'s start
        FOLDS,
        cross_validated_error,
    )

    surrogate = cross_validated_error(points, finals, folds=min(FOLDS, len(finals)))
    return {
        "metric": metric,
        "runs": len(finals),
        "mean_only_mae": nearest["baseline_mean_abs_error"],
        "nearest_mae": nearest["mean_abs_error"],
        "nearest_spearman": nearest["spearman"],
        "surrogate_mae": surrogate["mean_abs_error"],
        "surrogate_spearman": surrogate["spearman"],
    }


def describe(error: dict[str, Any]) -> str:
    """One line of `replay_error`'s numbers."""
    return (
        f"{error['metric']} over {error['runs']} runs: mean abs error nearest "
        f"{error['nearest_mae']:.4f} (Spearman {error['nearest_spearman']:.2f}), surrogate "
        f"{error['surrogate_mae']:.4f} (Spearman {error['surrogate_spearman']:.2f}), "
        f"mean-only {error['mean_only_mae']:.4f}"
    )


def measured(curve_set: CurveSet, *, recompute: bool = False) -> dict[str, Any]:
    """The manifest's `replay_error` while it was measured on this set's runs, else measured
    now."""
    stored = curve_set.manifest.get("replay_error")
    if not recompute and stored and stored.get("set_runs") == len(curve_set.runs):
        return dict(stored)
    return {**replay_error(curve_set), "set_runs": len(curve_set.runs)}
