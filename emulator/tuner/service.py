"""The tuner's event handlers: each reads stored state, decides, stores its decision, and
returns the commands (`domain.commands`) its driver must carry out.

    tuning job created / a child changed  -> refresh counters and best job, check completion,
                                             launch the next configurations
    tuning job stop requested             -> stop every running child, end as Stopped
    metric point arrived                  -> automatic early stopping decision
    clock tick                            -> MaxRuntimeInSeconds of tuning jobs

All decisions come from pure functions (strategies, stopping rules, completion criteria); this
module only gathers their inputs from the store and records their answers. It never waits on
anything: the handlers are plain functions, and the driver (the control plane, the simulator's
engine) decides how a `Launch` or a `Stop` reaches a training job.
"""

from __future__ import annotations

import copy
import logging
import secrets
import uuid
from dataclasses import replace
from typing import Any

from emulator.clock import Clock
from emulator.domain import summary
from emulator.domain.commands import Commands, Launch, Stop, TuningEnded
from emulator.domain.documents import (
    TUNING_OBJECTIVE_HP,
    child_training_params,
    definitions_of,
    objective_of,
    ranges_of,
    static_hyperparameters,
)
from emulator.domain.jobs import TrainingJob, TuningJob
from emulator.domain.status import ACTIVE_TRAINING, ACTIVE_TUNING, ENDING_OF, winding_down
from emulator.ids import child_job_name
from emulator.records import JobRecords
from emulator.store.sqlite import Store
from emulator.tuner.completion import CONVERGENCE, check_completion, jobs_not_improving
from emulator.tuner.definitions import joint_history, joint_space, split
from emulator.tuner.early_stopping import RunningAverages
from emulator.tuner.failures import no_success, retry_attempts
from emulator.tuner.hyperband import EPOCH_KEYS, HyperbandSettings, decide, rung_values
from emulator.tuner.model import Config, History, ObjectiveType, Observation
from emulator.tuner.space import SearchSpace
from emulator.tuner.suggestion import (
    InProcess,
    SuggestionAnswer,
    SuggestionRequest,
    Suggestions,
)
from emulator.tuner.tally import ChildCopies, Tally, end_key, retried
from emulator.tuner.warm_start import (
    IDENTICAL,
    TRANSFER,
    ParentJobs,
    prior_observations,
    ranked,
)

log = logging.getLogger(__name__)


class TunerService:
    def __init__(
        self,
        store: Store,
        records: JobRecords,
        clock: Clock,
        suggestions: Suggestions | None = None,
    ) -> None:
        """`suggestions`: where requests for configurations go (default: answered at once,
        in this process; the server's control plane gives a worker pool)."""
        self.store = store
        self.records = records
        self.clock = clock
        self.suggestions: Suggestions = suggestions or InProcess()
        self.running_averages = RunningAverages()
        """Earlier jobs' running averages for the early-stopping rule, each computed once."""
        self.copies = ChildCopies(store)
        """Children as last read: an update decodes only those that changed since."""
        self.asked: dict[str, SuggestionRequest] = {}
        """Requests sent and not answered yet, by tuning job: at most one each."""
        self.answered: dict[str, SuggestionAnswer] = {}
        """Answers come back, for the next launch of their tuning job (`_launch`)."""

    def forget(self) -> None:
        """After a reset: nothing remembered of the tuning jobs that are gone."""
        self.running_averages = RunningAverages()
        self.copies.forget()
        self.asked.clear()
        self.answered.clear()

    # ---- handlers ---------------------------------------------------------------------
    def on_tuning_changed(self, name: str) -> Commands:
        """Bring a tuning job up to date: summary, completion, next launches."""
        row = self.store.get_tuning_job(name)
        if row is None or row.status not in ACTIVE_TUNING:
            self.copies.drop(name)
            return []
        children = self.copies.children(row.name)
        tally = self.copies.tally(row.name)
        self._refresh(row, children, tally)
        if row.state == "InProgress":
            failure = no_success(tally.final_outcomes(), _max_jobs(row))
            reason = self._completion_reason(row, tally)
            if failure:
                self.records.move_tuning(row, "Failing", failure)
            elif reason:
                self.records.move_tuning(row, "Completing", reason)
        if winding_down(row.state):
            return self._wind_down(row, [c for c in children if c.status in ACTIVE_TRAINING])
        started = self._launch(row, children, tally)
        if started:
            children = self.copies.children(row.name)
            self._refresh(row, children, self.copies.tally(row.name))
        self.store.update_tuning_job(row)
        return [Launch(child.name) for child in started]

    def on_metric(self, row: TrainingJob, metric: str, step: int, value: float) -> Commands:
        """Early stopping (Auto) or Hyperband, decided the moment an objective value arrives."""
        tuning = row.tuning_job
        if not tuning or metric != row.objective.get("MetricName"):
            return []
        if row.early_stopping is False:  # known at launch: no need to read parent
            return []
        parent = self.store.get_tuning_job(tuning)
        if row.status != "InProgress" or parent is None:
            return []
        config = parent.doc["HyperParameterTuningJobConfig"]
        if parent.state != "InProgress":
            return []
        names = self.store.child_names(tuning)
        index = names.index(row.name)
        objective_type = _objective_type(parent)
        if config["Strategy"] == "Hyperband":
            statics = static_hyperparameters(definitions_of(self._request(parent))[0])
            settings = HyperbandSettings.from_api(config.get("StrategyConfig"), statics)
            if step >= settings.max_resource and step >= _int(statics, EPOCH_KEYS):
                return []  # the job ends on its own at MaxResource
            bracket = settings.bracket_for(index)
            peers = [
                n for i, n in enumerate(names) if i != index and settings.bracket_for(i) == bracket
            ]
            curves = self.store.series_of(peers, metric, step).values()
            decision = decide(
                step,
                value,
                bracket=bracket,
                values_at_rungs=rung_values(curves, settings.rungs),
                objective_type=objective_type,
                settings=settings,
            )
            if decision.stop:
                return self.stop_child(row, "early_stop", f"Stopping: Hyperband {decision.reason}")
        elif config.get("TrainingJobEarlyStoppingType") == "Auto":
            earlier = self.store.series_of(names[:index], metric, step)
            if self.running_averages.should_stop(value, step, earlier, objective_type):
                return self.stop_child(row, "early_stop", "Stopping: automatic early stopping")
        return []

    def on_suggestions(self, answer: SuggestionAnswer) -> Commands:
        """A request's answer came back: the tuning job is brought up to date and launches its
        configurations, if it still wants them (it may have stopped or ended meanwhile), then
        asks for more if room is left.

        Only the answer to the request still outstanding is applied, and only once."""
        row = self._settle(answer.tuning_job, answer.request_id)
        if row is None:
            return []
        self.answered[row.name] = answer
        return self.on_tuning_changed(row.name)

    def on_suggestions_failed(self, request: SuggestionRequest, reason: str) -> Commands:
        """No worker could answer `request`: its tuning job fails with `reason`."""
        row = self._settle(request.tuning_job, request.request_id)
        if row is None:
            return []
        self.records.move_tuning(row, "Failing", reason)
        self.store.update_tuning_job(row)
        return self.on_tuning_changed(row.name)

    def _settle(self, tuning_job: str, request_id: str) -> TuningJob | None:
        """The request `request_id` is no longer outstanding: the tuning job, if that was the
        request it waited for and it still runs (None: a stale or repeated outcome, or a
        tuning job stopped or ended meanwhile)."""
        asked = self.asked.get(tuning_job)
        if asked is None or asked.request_id != request_id:
            return None
        del self.asked[tuning_job]
        row = self.store.get_tuning_job(tuning_job)
        if row is None or row.state != "InProgress":
            return None
        return row

    def stop_child(self, row: TrainingJob, reason: str, message: str | None = None) -> Commands:
        """Ask for a running child to stop, remembering why.

        The job is read afresh first: `row` may predate a change stored while earlier events
        were handled (a run of metric points shares one row), and writing it back would undo
        that change.
        """
        fresh = self.store.get_training_job(row.name)
        if fresh is None:
            return []
        row.take(fresh)
        row.stop_reason = reason
        if self.records.move(row, "Stopping", message):
            return [Stop(row.name)]
        return []

    def tick(self) -> Commands:
        """Time-based rules: a tuning job's MaxRuntimeInSeconds."""
        now = self.clock.now()
        commands: Commands = []
        for name in self.store.tuning_job_names(("InProgress",)):
            row = self.store.get_tuning_job(name)
            if row is None or row.state != "InProgress":
                continue
            limits = row.doc["HyperParameterTuningJobConfig"]["ResourceLimits"]
            limit = limits.get("MaxRuntimeInSeconds")
            if limit and now - row.doc["CreationTime"] >= limit:
                self.records.move_tuning(row, "Completing", "MaxRuntimeInSeconds")
                self.store.update_tuning_job(row)
                commands += self.on_tuning_changed(name)
        return commands

    def resume(self) -> Commands:
        """After a restart: every unfinished tuning job picks up where the store says it was."""
        commands: Commands = []
        for name in self.store.tuning_job_names(sorted(ACTIVE_TUNING)):
            commands += self.on_tuning_changed(name)
        return commands

    # ---- steps --------------------------------------------------------------------------
    def _refresh(self, row: TuningJob, children: list[TrainingJob], tally: Tally) -> None:
        doc = row.doc
        doc["TrainingJobStatusCounters"] = dict(tally.training)
        doc["ObjectiveStatusCounters"] = dict(tally.objective)
        if tally.best is not None:
            doc["BestTrainingJob"] = summary.training_summary(tally.best)
        warm = doc.get("WarmStartConfig") or {}
        if warm.get("WarmStartType") == IDENTICAL:
            family = children + [c for _p, cs in self._parents(row) for c in cs]
            overall = summary.best_of(family)
            if overall is not None:
                doc["OverallBestTrainingJob"] = summary.training_summary(overall)
        doc["LastModifiedTime"] = self.clock.now()

    def _parents(self, row: TuningJob) -> list[tuple[TuningJob, list[TrainingJob]]]:
        """Warm start parents that still exist, with their training jobs."""
        config = row.doc.get("WarmStartConfig") or {}
        parents = []
        for entry in config.get("ParentHyperParameterTuningJobs", []):
            parent = self.store.get_tuning_job(entry["HyperParameterTuningJobName"])
            if parent is not None:
                parents.append((parent, self.copies.children(parent.name)))
        return parents

    def _prior(self, row: TuningJob, space: SearchSpace) -> tuple[Observation, ...]:
        """Parents' jobs as prior observations (see `tuner.warm_start` for the mapping)."""
        parents = self._parents(row)
        if not parents:
            return ()
        jobs = [
            ParentJobs(
                observations=_observations(children),
                static=static_hyperparameters(definitions_of(self._request(parent))[0]),
            )
            for parent, children in parents
        ]
        return prior_observations(row.doc["WarmStartConfig"]["WarmStartType"], jobs, space)

    def _completion_reason(self, row: TuningJob, tally: Tally) -> str | None:
        config = row.doc["HyperParameterTuningJobConfig"]
        limits = config["ResourceLimits"]
        objective_type = _objective_type(row)
        values = tally.final_values()
        details: dict[str, Any] = {
            "NumberOfTrainingJobsObjectiveNotImproving": jobs_not_improving(values, objective_type)
        }
        criteria = config.get("TuningJobCompletionCriteria")
        dims = len(_space_of(row.doc, definitions_of(self._request(row))[0]).params)
        fired = check_completion(criteria, values, objective_type, dims) if criteria else None
        if fired is not None and fired.criterion == CONVERGENCE:
            details["ConvergenceDetectedTime"] = self.clock.now()
        row.doc["TuningJobCompletionDetails"] = details
        if fired is not None:
            return fired.criterion
        if tally.counted >= _max_jobs(row) and tally.active == 0:
            return "MaxNumberOfTrainingJobs"
        if row.exhausted and tally.active == 0:
            return "SearchSpaceExhausted"
        limit = limits.get("MaxRuntimeInSeconds")
        if limit and self.clock.now() - row.doc["CreationTime"] >= limit:
            return "MaxRuntimeInSeconds"
        return None

    def _wind_down(self, row: TuningJob, active: list[TrainingJob]) -> Commands:
        """Stop what still runs (a failing tuning job lets it finish); once nothing runs, end
        the tuning job."""
        commands: Commands = []
        self.answered.pop(row.name, None)  # configurations nobody will train
        for child in active:
            if child.status == "InProgress" and row.state != "Failing":
                commands += self.stop_child(_own_copy(child), "tuning_job_ended")
        if not active:
            self.records.move_tuning(row, ENDING_OF[row.state])
            commands.append(TuningEnded(row.name, row.status))
            self.copies.drop(row.name)
        self.store.update_tuning_job(row)
        return commands

    def _launch(
        self, row: TuningJob, children: list[TrainingJob], tally: Tally
    ) -> list[TrainingJob]:
        """Start as many children as the limits allow; the children started.

        Replacements of lost jobs start at once; new configurations once the strategy's answer
        is in, which may be later (`on_suggestions`): no second request while one is out."""
        slots = _slots(row, tally)
        if slots <= 0:
            return []
        started: list[TrainingJob] = []
        params = self._request(row)
        for lost in map(_own_copy, _unreplaced_failures(children)[:slots]):
            definition = _definition_named(params, lost.definition)
            tuned = dict(lost.tuned)
            replacement = self._start_child(row, params, definition, tuned, lost.attempt + 1)
            lost.replaced_by = replacement.name
            self.store.update_training_job(lost)
            started.append(replacement)
        slots -= len(started)
        suggested: list[TrainingJob] = []
        if slots > 0 and row.name in self.answered:
            suggested = self._start_suggested(row, params, self.answered.pop(row.name), slots)
            started += suggested
            slots -= len(suggested)
            if not suggested:
                return started  # the space is exhausted
        if slots <= 0 or row.name in self.asked:
            return started
        if row.seed is None:
            row.seed = _seed_of(row.doc)
        request = self._suggestion_request(row, params, children + suggested, slots, row.seed)
        answer = self.suggestions.ask(request)
        if answer is None:
            self.asked[row.name] = request
            return started
        return started + self._start_suggested(row, params, answer, slots)

    def _start_suggested(
        self, row: TuningJob, params: dict[str, Any], answer: SuggestionAnswer, slots: int
    ) -> list[TrainingJob]:
        """Launch an answer's configurations (no more than `slots`); none: space exhausted."""
        if not answer.configs:
            row.exhausted = True
        return [
            self._start_child(row, params, definition, tuned)
            for definition, tuned in _paired(params, list(answer.configs))[:slots]
        ]

    def _suggestion_request(
        self,
        row: TuningJob,
        params: dict[str, Any],
        children: list[TrainingJob],
        n: int,
        seed: int,
    ) -> SuggestionRequest:
        """What the strategy needs to choose the next `n` configurations (several
        definitions: one joint space, see `tuner.definitions`)."""
        definitions = definitions_of(params)
        objective_type = objective_of(params, definitions[0]).get("Type")
        if len(definitions) == 1:
            space = _space_of(row.doc, definitions[0])
            history = _history(row, children, objective_type, self._prior(row, space))
            if (row.doc.get("WarmStartConfig") or {}).get("WarmStartType") == TRANSFER:
                # The prior is in ranks (another task's scale); put our own values on it too.
                history = replace(history, observations=tuple(ranked(history.observations)))
        else:
            spaces = {d["DefinitionName"]: _space_of(row.doc, d) for d in definitions}
            histories = {
                name: _history(
                    row, [c for c in children if c.definition == name], objective_type, ()
                )
                for name in spaces
            }
            space = joint_space(spaces)
            history = joint_history(histories, spaces)
        return SuggestionRequest(
            tuning_job=row.name,
            request_id=uuid.uuid4().hex,
            strategy=row.doc["HyperParameterTuningJobConfig"]["Strategy"],
            space=space,
            history=history,
            n=n,
            seed=seed,
            stream=row.launched,
        )

    def _start_child(
        self,
        row: TuningJob,
        params: dict[str, Any],
        definition: dict[str, Any],
        tuned: dict[str, str],
        attempt: int = 1,
    ) -> TrainingJob:
        """Launch one training job; `attempt` > 1 for a replacement of an internal failure."""
        doc = row.doc
        row.launched += 1
        name = child_job_name(row.name, row.launched, self.records.job_suffix)
        objective = objective_of(params, definition)
        child = child_training_params(doc, definition, tuned, name)
        child["HyperParameters"][TUNING_OBJECTIVE_HP] = objective["MetricName"]
        child["TuningJobArn"] = doc["HyperParameterTuningJobArn"]
        child["Tags"] = [
            {"Key": k, "Value": v}
            for k, v in self.store.list_tags(doc["HyperParameterTuningJobArn"])
        ]
        with self.store.transaction():
            created = self.records.create_training(
                child,
                tuning_job=row.name,
                tuned=tuned,
                objective=objective,
                definition=definition.get("DefinitionName"),
                early_stopping=_stops_early(doc["HyperParameterTuningJobConfig"]),
                attempt=attempt,
                max_attempts=1 + retry_attempts(definition),
            )
            self.store.update_tuning_job(row)
        return created

    def _request(self, row: TuningJob) -> dict[str, Any]:
        """The tuning request as created (definitions without Describe's additions)."""
        doc = row.doc
        params: dict[str, Any] = {
            "HyperParameterTuningJobConfig": doc["HyperParameterTuningJobConfig"]
        }
        for key in ("TrainingJobDefinition", "TrainingJobDefinitions"):
            if key in doc:
                params[key] = doc[key]
        if "TrainingJobDefinition" in params:
            params["TrainingJobDefinition"] = _without_objective_hp(params["TrainingJobDefinition"])
        if "TrainingJobDefinitions" in params:
            params["TrainingJobDefinitions"] = [
                _without_objective_hp(d) for d in params["TrainingJobDefinitions"]
            ]
        return params


def _slots(row: TuningJob, tally: Tally) -> int:
    """New training jobs the limits allow now."""
    limits = row.doc["HyperParameterTuningJobConfig"]["ResourceLimits"]
    return min(
        limits["MaxParallelTrainingJobs"] - tally.active,
        _max_jobs(row) - tally.counted,
    )


def _own_copy(child: TrainingJob) -> TrainingJob:
    """A child to change and store: the copies read through `ChildCopies` are shared."""
    return replace(child, doc=copy.deepcopy(child.doc), tuned=dict(child.tuned))


def _paired(params: dict[str, Any], configs: list[Config]) -> list[tuple[dict[str, Any], Config]]:
    """(definition, its configuration) of each suggested configuration: with several
    definitions a suggestion is a point of the joint space and names its definition."""
    definitions = definitions_of(params)
    if len(definitions) == 1:
        return [(definitions[0], c) for c in configs]
    by_name = {d["DefinitionName"]: d for d in definitions}
    return [(by_name[d], own) for d, own in map(split, configs)]


def _stops_early(config: dict[str, Any]) -> bool:
    """Whether the tuner judges this tuning job's children by their objective points."""
    return config["Strategy"] == "Hyperband" or config.get("TrainingJobEarlyStoppingType") == "Auto"


def _definition_named(params: dict[str, Any], name: str | None) -> dict[str, Any]:
    definitions = definitions_of(params)
    return next((d for d in definitions if d.get("DefinitionName") == name), definitions[0])


def _without_objective_hp(definition: dict[str, Any]) -> dict[str, Any]:
    return {**definition, "StaticHyperParameters": static_hyperparameters(definition)}


def _unreplaced_failures(children: list[TrainingJob]) -> list[TrainingJob]:
    """Children lost to an internal error, with retries left, not replaced yet."""
    return [c for c in children if retried(c) and not c.replaced_by]


def _int(values: dict[str, str], keys: tuple[str, ...]) -> int:
    """The first of `keys` present in `values` as an integer (0 when none is)."""
    for key in keys:
        if key in values:
            try:
                return int(float(str(values[key]).strip('"')))
            except ValueError:
                return 0
    return 0


def _space_of(doc: dict[str, Any], definition: dict[str, Any]) -> SearchSpace:
    """A definition's own ranges (several definitions) or the job's ParameterRanges."""
    return SearchSpace.from_parameter_ranges(ranges_of(doc, definition))


def _objective_type(row: TuningJob) -> ObjectiveType:
    objective = row.doc["HyperParameterTuningJobConfig"].get("HyperParameterTuningJobObjective")
    return "Minimize" if (objective or {}).get("Type") == "Minimize" else "Maximize"


def _max_jobs(row: TuningJob) -> int:
    limits = row.doc["HyperParameterTuningJobConfig"]["ResourceLimits"]
    if limits.get("MaxNumberOfTrainingJobs"):
        return int(limits["MaxNumberOfTrainingJobs"])
    definition = row.doc.get("TrainingJobDefinition") or row.doc["TrainingJobDefinitions"][0]
    return len(_space_of(row.doc, definition).grid())


def _seed_of(doc: dict[str, Any]) -> int:
    seed = doc["HyperParameterTuningJobConfig"].get("RandomSeed")
    return int(seed) if seed is not None else secrets.randbits(32)


def _observations(children: list[TrainingJob]) -> list[Observation]:
    """What finished children taught: their configuration and final objective (None: failed),
    in the order they ended (launch order between equal times).

    Not launch order: the model's kernel is fitted on the first observations and cached by
    them (`gp.hyperparameters`), and with jobs running in parallel an early-launched job
    ending late would change which those are, missing the cache at every such end."""
    observations = []
    in_end_order = sorted(enumerate(children), key=lambda pair: end_key(pair[1], pair[0]))
    for _index, child in in_end_order:
        if child.status in ACTIVE_TRAINING:
            continue
        if summary.counter_key(child) == "RetryableError":
            continue
        succeeded = summary.objective_status(child) == "Succeeded"
        value = child.objective_value if succeeded else None
        observations.append(Observation(config=dict(child.tuned), value=value))
    return observations


def _history(
    row: TuningJob,
    children: list[TrainingJob],
    objective_type: str | None,
    prior: tuple[Observation, ...],
) -> History:
    pending = [dict(c.tuned) for c in children if c.status in ACTIVE_TRAINING]
    return History(
        objective_type="Maximize" if objective_type == "Maximize" else "Minimize",
        observations=tuple(_observations(children)),
        pending=tuple(pending),
        launched=row.launched,
        prior=prior,
    )
