"""`amt jobs`, `amt describe`, `amt watch`: what a tuning job is doing, in the terminal."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from emulator.client.session import Emulator
from emulator.domain.status import TERMINAL_TUNING


def best_value(desc: dict[str, Any]) -> str:
    best = desc.get("BestTrainingJob", {}).get("FinalHyperParameterTuningJobObjectiveMetric")
    return f"{best['Value']:.6g}" if best else "-"


def jobs(emulator: Emulator, out: TextIO = sys.stdout) -> int:
    sm = emulator.client("sagemaker")
    pages = sm.get_paginator("list_hyper_parameter_tuning_jobs").paginate(
        SortBy="CreationTime", SortOrder="Descending"
    )
    print(f"{'NAME':34} {'STATUS':10} {'STRATEGY':10} {'DONE':>9}  BEST", file=out)
    for page in pages:
        for summary in page["HyperParameterTuningJobSummaries"]:
            name = summary["HyperParameterTuningJobName"]
            counters = summary["TrainingJobStatusCounters"]
            done = sum(v for k, v in counters.items() if k != "InProgress")
            limit = summary.get("ResourceLimits", {}).get("MaxNumberOfTrainingJobs", "?")
            best = best_value(emulator.tuning_job(name))
            status = summary["HyperParameterTuningJobStatus"]
            print(
                f"{name:34} {status:10} {summary['Strategy']:10} {done:>4}/{limit:<4}  {best}",
                file=out,
            )
    return 0


def describe(emulator: Emulator, name: str, out: TextIO = sys.stdout) -> int:
    desc = emulator.tuning_job(name)
    desc.pop("ResponseMetadata", None)
    print(json.dumps(desc, indent=2, default=str), file=out)
    return 0


def bar(done: int, total: int, width: int = 30) -> str:
    filled = int(width * done / total) if total else 0
    return "[" + "#" * filled + "." * (width - filled) + f"] {done}/{total}"


def frame(emulator: Emulator, name: str) -> tuple[str, str | None]:
    """One screen of `amt watch`, and the tuning job's final status once it has ended."""
    desc = emulator.tuning_job(name)
    counters = desc["TrainingJobStatusCounters"]
    limit = desc["HyperParameterTuningJobConfig"]["ResourceLimits"].get(
        "MaxNumberOfTrainingJobs", sum(counters.values())
    )
    finished = sum(v for k, v in counters.items() if k != "InProgress")
    lines = [
        f"{name}  {desc['HyperParameterTuningJobStatus']}",
        f"launched {bar(sum(counters.values()), limit)}",
        f"finished {bar(finished, limit)}",
        "counters " + "  ".join(f"{k}={v}" for k, v in counters.items()),
        f"best     {best_value(desc)}"
        + (
            f"  ({desc['BestTrainingJob']['TrainingJobName']})" if "BestTrainingJob" in desc else ""
        ),
    ]
    if desc.get("FailureReason"):
        lines.append(f"reason   {desc['FailureReason']}")
    running = [c for c in emulator.children(name) if c["TrainingJobStatus"] == "InProgress"]
    for child in running:
        latest = {
            m: points[-1]["value"]
            for m, points in emulator.metrics(child["TrainingJobName"]).items()
            if points
        }
        shown = "  ".join(f"{m}={v:.4g}" for m, v in sorted(latest.items())) or "(no metrics yet)"
        lines.append(f"  {child['TrainingJobName']}: {shown}")
    status = desc["HyperParameterTuningJobStatus"]
    return "\n".join(lines), status if status in TERMINAL_TUNING else None


def watch(
    emulator: Emulator,
    name: str,
    *,
    interval: float = 2.0,
    out: TextIO = sys.stdout,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Redraw until the tuning job ends (plain successive frames when not on a terminal); the
    exit status is 1 when it ended Failed, so a script can tell."""
    clear = "\x1b[2J\x1b[H" if out.isatty() else ""
    while True:
        text, ended = frame(emulator, name)
        print(clear + text + ("" if clear else "\n"), file=out, flush=True)
        if ended:
            return 1 if ended == "Failed" else 0
        sleep(interval)
