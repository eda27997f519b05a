"""The pure failure rules: when no training job succeeded, and how often a job is retried."""

from __future__ import annotations

from emulator.tuner.failures import DEFAULT_RETRY_ATTEMPTS, no_success, retry_attempts


def test_five_failures_in_end_order_before_any_completion() -> None:
    assert no_success(["Failed"] * 4, 10) is None
    reason = no_success(["Failed", "Stopped", "Failed", "Failed", "Failed", "Failed"], 10)
    assert reason is not None and reason.startswith("No training job succeeded after 5 attempts.")
    assert no_success(["Failed", "Completed", *["Failed"] * 8], 10) is None
    assert no_success(["Completed"] * 3 + ["Failed"] * 5, 10) is None


def test_fewer_jobs_than_five_all_failed() -> None:
    assert no_success(["Failed", "Failed"], 3) is None
    reason = no_success(["Failed"] * 3, 3)
    assert reason is not None and reason.startswith("No training job succeeded after 3 attempts.")


def test_retries_come_from_the_definitions_retry_strategy() -> None:
    assert retry_attempts({"RetryStrategy": {"MaximumRetryAttempts": 7}}) == 7
    assert retry_attempts({}) == DEFAULT_RETRY_ATTEMPTS
