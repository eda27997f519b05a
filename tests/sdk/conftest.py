"""The SageMaker Python SDKs, each in a virtual environment of its own, run against a live server.

SDK v2 and v3 share the package name `sagemaker` and pin conflicting dependencies, so neither
is installed next to the emulator: the test run builds `.sdk-venvs/v2` and `.sdk-venvs/v3` in
the repository (reused while their marker file names the same pins) and runs the programs in
`tests/sdk/scripts/` with the venv's interpreter. A venv that cannot be built (no package
index reachable) skips the tests that need it, saying why.
"""

from __future__ import annotations

import json
import os
import subprocess
import venv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, Server
from tests.requests import BUCKET, ROLE

SCRIPTS = Path(__file__).resolve().parent / "scripts"
VENVS = ROOT / ".sdk-venvs"
MARKER = ".amt-sdk-pins"
RESULT = "AMT-SDK-RESULT "
"""Prefix of the line on which a script prints its JSON result (the rest is the SDK's output)."""
PINS = {
    "v2": ("sagemaker==2.257.7", "boto3"),
    "v3": ("sagemaker==3.27.0", "boto3"),
}
EXTRA_ENV: dict[str, dict[str, str]] = {"v2": {}, "v3": {}}
TRUST_SAGEMAKER = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "sagemaker.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
TELEMETRY_OPT_OUT = (
    "SchemaVersion: '1.0'\nSageMaker:\n  PythonSDK:\n    Modules:\n      TelemetryOptOut: true\n"
)
Unique = Callable[[str], str]


class SdkVenvError(RuntimeError):
    """The SDK's virtual environment could not be built."""


def build_venv(path: Path, requirements: tuple[str, ...], timeout: float = 900) -> Path:
    """The venv's python, building the venv first unless its marker names `requirements`."""
    python = path / "bin" / "python"
    marker = path / MARKER
    wanted = "\n".join(requirements)
    if python.exists() and marker.exists() and marker.read_text() == wanted:
        return python
    venv.EnvBuilder(clear=True, with_pip=True).create(path)
    install = [str(python), "-m", "pip", "install", "--quiet", *requirements]
    try:
        done = subprocess.run(install, check=False, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise SdkVenvError(f"pip install {' '.join(requirements)} timed out") from exc
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        raise SdkVenvError(f"pip install {' '.join(requirements)} failed:\n{tail}")
    marker.write_text(wanted)
    return python


@dataclass(frozen=True)
class ScriptRun:
    """A finished SDK program: its JSON result and everything it printed."""

    result: dict[str, Any]
    output: str


@dataclass(frozen=True)
class Sdk:
    """One SDK's interpreter, pointed at one emulator through the environment alone."""

    python: Path
    server: Server
    config: Path
    extra_env: dict[str, str]

    def env(self) -> dict[str, str]:
        """The user's shell: endpoint, dummy credentials, region, telemetry opted out.
        The caller's AWS settings are not inherited, so nothing can reach real AWS."""
        keep = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SAGEMAKER_"))}
        return {
            **keep,
            "AWS_ENDPOINT_URL": self.server.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "SAGEMAKER_USER_CONFIG_OVERRIDE": str(self.config),
            "SAGEMAKER_SUPPRESS_V2_WARNING": "1",
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }

    def run(self, script: str, timeout: float = 400, **args: Any) -> ScriptRun:
        """Run `scripts/<script>.py` with `args` (plus the bucket and role) as JSON in argv."""
        payload = json.dumps({"bucket": BUCKET, "role": ROLE, **args})
        return self.run_program(SCRIPTS / f"{script}.py", payload, timeout=timeout)

    def run_program(
        self,
        program: Path,
        *argv: str,
        timeout: float = 400,
        result: bool = True,
        cwd: Path = SCRIPTS,
    ) -> ScriptRun:
        """Run a program in the SDK's venv, in `cwd`; it must exit 0 (and print a result line,
        unless `result` is False: then the result is empty)."""
        done = subprocess.run(
            [str(self.python), str(program), *argv],
            check=False,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env(),
            cwd=cwd,
        )
        output = done.stdout + done.stderr
        results = [line for line in done.stdout.splitlines() if line.startswith(RESULT)]
        if done.returncode != 0 or (result and not results):
            tail = "\n".join(output.splitlines()[-60:])
            server_tail = "\n".join(list(self.server.process.output)[-30:])
            pytest.fail(
                f"{program.name} exited {done.returncode}:\n{tail}\n--- server ---\n{server_tail}"
            )
        return ScriptRun(json.loads(results[-1][len(RESULT) :]) if results else {}, output)


def sdk_fixture(version: str) -> Callable[..., Sdk]:
    """A session fixture giving SDK `version` against the session's server, or a skip."""

    @pytest.fixture(scope="session")
    def fixture(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Sdk:
        try:
            python = build_venv(VENVS / version, PINS[version])
        except (SdkVenvError, OSError) as exc:
            pytest.skip(f"SageMaker SDK {version} venv could not be built: {exc}")
        config = tmp_path_factory.mktemp(f"sdk-{version}") / "config.yaml"
        config.write_text(TELEMETRY_OPT_OUT)
        execution_role(server)
        return Sdk(python, server, config, EXTRA_ENV[version])

    return fixture


def execution_role(server: Server) -> str:
    """The role the scripts pass, as the user's account has it: v3 checks that it exists and
    that SageMaker may assume it (v2 does not look)."""
    iam = server.process.client("iam")
    name = ROLE.rsplit("/", 1)[-1]
    try:
        return str(iam.get_role(RoleName=name)["Role"]["Arn"])
    except iam.exceptions.NoSuchEntityException:
        document = json.dumps(TRUST_SAGEMAKER)
        return str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=document)["Role"]["Arn"])


sdk_v2 = sdk_fixture("v2")
sdk_v3 = sdk_fixture("v3")
