"""Optuna's pruners as stopping rules inside our simulated tuning jobs, for comparison only.

`OptunaPrunedTuner` is the real `TunerService` (same strategies, launches, records, store and
billing) with one change: the decision taken when an objective value arrives is Optuna's
instead of ours. Each training job is one Optuna trial, created with `study.ask()` (Optuna's
sampler is never consulted: configurations come from our Random or Bayesian strategy, exactly
as in the run it is compared with); every epoch's objective value is `trial.report(value,
epoch)`, and when `trial.should_prune()` answers True the job is stopped through
`stop_child`, as our own early stopping stops it (same stop delay, same billing). A job that
ends is told to the study: COMPLETE with its final objective, PRUNED when it was stopped,
FAIL when it failed — the states Optuna's pruners read their peers from.

    median: MedianPruner() with Optuna's defaults (n_startup_trials=5, n_warmup_steps=0):
            a trial's best value so far against the median of COMPLETE trials at that epoch
    asha:   SuccessiveHalvingPruner(min_resource=1, reduction_factor=3): rungs at epochs 1, 3,
            9; a trial continues past a rung only while among the top 1/3 of every trial that
            reached it (running, complete or pruned)

Optuna is a benchmark-only dependency (`pip install .[bench]`).
"""

from __future__ import annotations

import logging
from typing import Any

from emulator.clock import Clock
from emulator.domain import summary
from emulator.domain.commands import Commands
from emulator.domain.jobs import TrainingJob
from emulator.domain.status import ACTIVE_TRAINING
from emulator.records import JobRecords
from emulator.store.sqlite import Store
from emulator.tuner.service import TunerService

PRUNERS = ("median", "asha")


def make_pruner(name: str) -> Any:
    """The Optuna pruner named `name` (one of PRUNERS), configured as the module docstring says."""
    import optuna

    if name == "median":
        return optuna.pruners.MedianPruner()
    if name == "asha":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    raise ValueError(f"unknown pruner {name!r}; expected one of {', '.join(PRUNERS)}")


class OptunaPrunedTuner(TunerService):
    """A tuner whose per-epoch stopping decisions are an Optuna pruner's (one study per
    tuning job); everything else is `TunerService`'s own."""

    def __init__(self, store: Store, records: JobRecords, clock: Clock, pruner: str) -> None:
        import optuna

        super().__init__(store, records, clock)
        optuna.logging.set_verbosity(logging.WARNING)
        self.pruner_name = pruner
        self._pruner = make_pruner(pruner)
        self._studies: dict[str, Any] = {}
        self._trials: dict[str, Any] = {}
        self._told: set[str] = set()

    def _study(self, tuning_job: str, objective_type: str) -> Any:
        import optuna

        if tuning_job not in self._studies:
            self._studies[tuning_job] = optuna.create_study(
                direction="minimize" if objective_type == "Minimize" else "maximize",
                pruner=self._pruner,
            )
        return self._studies[tuning_job]

    def _trial(self, row: TrainingJob, tuning_job: str) -> Any:
        """The trial of a training job, asked for when the job first reports."""
        if row.name not in self._trials:
            study = self._study(tuning_job, str(row.objective.get("Type")))
            self._trials[row.name] = study.ask()
        return self._trials[row.name]

    def on_metric(self, row: TrainingJob, metric: str, step: int, value: float) -> Commands:
        """Report the objective to the job's trial; stop the job when the pruner says so."""
        tuning = row.tuning_job
        if not tuning or metric != row.objective.get("MetricName"):
            return []
        parent = self.store.get_tuning_job(tuning)
        if parent is None or parent.state != "InProgress":
            return []
        if row.status != "InProgress":
            return []
        trial = self._trial(row, tuning)
        trial.report(value, step)
        if trial.should_prune():
            return self.stop_child(row, "early_stop", f"Stopping: Optuna {self.pruner_name}")
        return []

    def on_tuning_changed(self, name: str) -> Commands:
        """Tell the study about every job that ended, then let the tuner do its part."""
        self._tell_ended(name)
        return super().on_tuning_changed(name)

    def _tell_ended(self, tuning_job: str) -> None:
        import optuna

        for child in self.store.children(tuning_job):
            job = child.name
            if job in self._told or child.status in ACTIVE_TRAINING:
                continue
            self._told.add(job)
            trial = self._trials.get(job)
            if trial is None:  # ended before its first report
                continue
            study = self._studies[tuning_job]
            value = child.objective_value
            if child.status == "Stopped":
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            elif summary.objective_status(child) == "Succeeded" and value is not None:
                study.tell(trial, float(value))
            else:
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
