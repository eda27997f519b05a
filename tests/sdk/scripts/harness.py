"""What every SDK program shares: its arguments, its result line, and the session set-up the
README shows (the only lines a user changes to point SDK v2 at the emulator)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

RESULT = "AMT-SDK-RESULT "
HERE = Path(__file__).resolve().parent
IMAGE = "local/sklearn-sgd:latest"
"""The emulator maps this image to fixtures/algorithms/sklearn_sgd.py (tests/conftest.py)."""
FRAMEWORK_SOURCE = HERE / "framework_source"
"""A tiny script-mode training program, uploaded by the SDK as sourcedir.tar.gz."""


def args() -> dict[str, Any]:
    """The JSON object the test passed as the first argument."""
    return dict(json.loads(sys.argv[1]))


def emit(result: dict[str, Any]) -> None:
    """Print the result on the line the test reads."""
    print(RESULT + json.dumps(result, default=str), flush=True)


def v2_session(bucket: str) -> Any:
    """`sagemaker.Session` with an explicit default bucket: without one SDK v2 asks the
    hard-coded public STS endpoint for the account to name `sagemaker-<region>-<account>`."""
    import sagemaker

    return sagemaker.Session(default_bucket=bucket)
