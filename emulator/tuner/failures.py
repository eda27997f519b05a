"""How a tuning job treats its failed training jobs, as pure functions.

Two kinds of failure, told apart where the job failed (the agent, or the scheduler losing it):

- **Internal** (`RetryableError`, FailureReason `InternalServerError: ...`): our fault, not the
  job's (an agent lost, an error inside the agent). The tuning job launches a replacement with
  the same hyperparameters, at most `retry_attempts` times per configuration: the definition's
  `RetryStrategy.MaximumRetryAttempts`, else `DEFAULT_RETRY_ATTEMPTS`. A replaced failure does
  not count against MaxNumberOfTrainingJobs; the last one of a configuration whose retries are
  spent does. So a tuning job launches at most MaxNumberOfTrainingJobs * (1 + retries) jobs.
- **Client** (`NonRetryableError`: `ClientError: ...` for the request, data or output location,
  `AlgorithmError: ...` for the program itself): never retried; it counts as one attempt.

**No training job succeeded.** AWS ends a tuning job `Failed` with the FailureReason
`NO_SUCCESS` when its first five finished attempts all failed. Our reading of "attempts", from
the public reports of it (a tuning job of 4 parallel jobs ended with 8 NonRetryableErrors; one
of 5 parallel jobs with 6): the training jobs that ended `Failed` for good (client errors, and
internal ones whose retries are spent), counted in the order they ended; the rule fires the
moment the fifth one ends while none has ended `Completed`. The tuning job then launches
nothing more; jobs already running finish (they are not stopped, as the reports' counters show)
and the tuning job ends `Failed`. A training job that completed without reporting the objective
is not a failure here (its ObjectiveStatus is Failed; the tuning job goes on, as on AWS). With
MaxNumberOfTrainingJobs below 5, all of its jobs failing ends the tuning job `Failed` the same
way, after that many attempts (AWS documents no case; ours never calls such a job Completed).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

NO_SUCCESS_ATTEMPTS = 5
DEFAULT_RETRY_ATTEMPTS = 2
"""Replacements per configuration lost to an internal error when the definition sets no
RetryStrategy (AWS's allowed range for MaximumRetryAttempts is 1..30)."""


def no_success_reason(attempts: int) -> str:
    """The tuning job's FailureReason, worded as AWS's."""
    return (
        f"No training job succeeded after {attempts} attempts. Please take a look at the "
        "training job failures to get more details."
    )


def retry_attempts(definition: Mapping[str, Any]) -> int:
    """How many times a configuration lost to an internal error is launched again."""
    strategy = definition.get("RetryStrategy") or {}
    return int(strategy.get("MaximumRetryAttempts", DEFAULT_RETRY_ATTEMPTS))


def no_success(outcomes: Iterable[str], max_jobs: int) -> str | None:
    """The FailureReason when no training job succeeded in time, else None.

    `outcomes`: the final TrainingJobStatus of each finished attempt, in the order they ended
    (`Completed`, `Failed` or `Stopped`; replaced internal failures left out).
    """
    needed = max(1, min(NO_SUCCESS_ATTEMPTS, max_jobs))
    failed = 0
    for outcome in outcomes:
        if outcome == "Completed":
            return None
        if outcome == "Failed":
            failed += 1
            if failed >= needed:
                return no_success_reason(needed)
    return None
