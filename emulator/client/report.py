"""`amt report NAME --out DIR`: the analytics table (CSV) and the charts the seeds show (PNG):
each job's objective over time with the best-so-far line, each tuned hyperparameter against the
objective, and the learning curves with early-stopped jobs marked."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from emulator.client.session import Emulator


def analytics_rows(children: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per training job, the columns of the SDK's HyperparameterTuningJobAnalytics."""
    rows = []
    for child in children:
        row: dict[str, Any] = dict(child.get("TunedHyperParameters", {}))
        objective = child.get("FinalHyperParameterTuningJobObjectiveMetric")
        start, end = child.get("TrainingStartTime"), child.get("TrainingEndTime")
        row.update(
            TrainingJobName=child["TrainingJobName"],
            TrainingJobStatus=child["TrainingJobStatus"],
            FinalObjectiveValue=objective["Value"] if objective else None,
            TrainingStartTime=start,
            TrainingEndTime=end,
            TrainingElapsedTimeSeconds=(end - start).total_seconds() if start and end else None,
        )
        if child.get("TrainingJobDefinitionName"):
            row["TrainingJobDefinitionName"] = child["TrainingJobDefinitionName"]
        rows.append(row)
    return rows


def write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def report(emulator: Emulator, name: str, out: Path) -> list[Path]:
    """Write the table and the charts; returns the files written."""
    try:
        import matplotlib  # noqa: PLC0415 - matplotlib is optional (the plots extra) and slow to import

        matplotlib.use("Agg")
    except ImportError as error:
        raise SystemExit("amt report draws with matplotlib: pip install matplotlib") from error
    out.mkdir(parents=True, exist_ok=True)
    desc = emulator.tuning_job(name)
    objective = desc["HyperParameterTuningJobConfig"].get("HyperParameterTuningJobObjective") or {}
    children = emulator.children(name)
    rows = analytics_rows(children)
    write_csv(rows, out / "analytics.csv")
    done = sorted(
        (r for r in rows if r["FinalObjectiveValue"] is not None and r["TrainingEndTime"]),
        key=lambda r: r["TrainingEndTime"],
    )
    tuned = sorted({k for c in children for k in c.get("TunedHyperParameters", {})})
    curves = {
        c["TrainingJobName"]: emulator.metrics(c["TrainingJobName"]).get(
            objective.get("MetricName", ""), []
        )
        for c in children
    }
    stopped = {c["TrainingJobName"] for c in children if c["TrainingJobStatus"] == "Stopped"}
    return [
        out / "analytics.csv",
        objective_chart(name, done, objective, out / "objective.png"),
        *([hyperparameter_chart(name, done, tuned, out / "hyperparameters.png")] if tuned else []),
        learning_curves_chart(name, curves, stopped, objective, out / "learning_curves.png"),
    ]


def objective_chart(
    name: str, done: list[dict[str, Any]], objective: dict[str, Any], path: Path
) -> Path:
    """Each job's final objective at its end time, and the best so far."""
    import matplotlib.pyplot as plt  # noqa: PLC0415 - matplotlib is optional (the plots extra) and slow to import

    pick = max if objective.get("Type", "Maximize") == "Maximize" else min
    fig, ax = plt.subplots(figsize=(8, 4.5))
    if done:
        ends = [r["TrainingEndTime"] for r in done]
        values = [r["FinalObjectiveValue"] for r in done]
        best = [pick(values[: i + 1]) for i in range(len(values))]
        colours = ["tab:red" if r["TrainingJobStatus"] == "Stopped" else "tab:blue" for r in done]
        ax.scatter(ends, values, c=colours, label="training jobs (red: stopped early)")
        ax.step(ends, best, where="post", color="black", label="best so far")
        ax.legend(loc="best")
    ax.set(title=f"{name}: objective over time", xlabel="training end")
    ax.set_ylabel(objective.get("MetricName", "objective"))
    fig.autofmt_xdate()
    return _save(fig, path)


def hyperparameter_chart(
    name: str, done: list[dict[str, Any]], tuned: list[str], path: Path
) -> Path:
    """One panel per tuned hyperparameter: its value against the final objective."""
    import matplotlib.pyplot as plt  # noqa: PLC0415 - matplotlib is optional (the plots extra) and slow to import

    fig, axes = plt.subplots(1, len(tuned), figsize=(4 * len(tuned), 3.5), squeeze=False)
    for ax, key in zip(axes[0], tuned, strict=True):
        points = [(_number(r[key]), r["FinalObjectiveValue"]) for r in done if key in r]
        numbers = [x for x, _ in points if isinstance(x, float)]
        ax.scatter([str(x) if not numbers else x for x, _ in points], [y for _, y in points], s=16)
        if numbers and min(numbers) > 0 and max(numbers) / min(numbers) >= 100:
            ax.set_xscale("log")
        ax.set(xlabel=key, ylabel="objective")
    fig.suptitle(f"{name}: hyperparameters against the objective")
    return _save(fig, path)


def learning_curves_chart(
    name: str,
    curves: dict[str, list[dict[str, float]]],
    stopped: set[str],
    objective: dict[str, Any],
    path: Path,
) -> Path:
    """The objective after every epoch of every job; early-stopped jobs red, ending in an x."""
    import matplotlib.pyplot as plt  # noqa: PLC0415 - matplotlib is optional (the plots extra) and slow to import

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for job, points in curves.items():
        if not points:
            continue
        steps = [p["step"] for p in points]
        values = [p["value"] for p in points]
        colour = "tab:red" if job in stopped else "tab:blue"
        ax.plot(steps, values, color=colour, alpha=0.7, linewidth=1)
        if job in stopped:
            ax.plot(steps[-1], values[-1], "x", color=colour)
    ax.set(title=f"{name}: learning curves (red x: stopped early)", xlabel="epoch")
    ax.set_ylabel(objective.get("MetricName", "objective"))
    return _save(fig, path)


def _number(text: str) -> float | str:
    try:
        return float(text.strip('"'))
    except ValueError:
        return text


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    import matplotlib.pyplot as plt  # noqa: PLC0415 - matplotlib is optional (the plots extra) and slow to import

    plt.close(fig)
    return path
