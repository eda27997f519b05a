"""SageMaker Python SDK v2, unmodified, driving a tuning job whose training jobs run in real
containers of the locally built toolkit image: AWS's own training toolkit is the entry point,
so it checks our container contract (config files, channels, the source from our S3)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agents.runtime.container import Engine
from tests.conftest import Server, start_server
from tests.containers import TOOLKIT, engine_or_skip, image_or_skip, leftovers
from tests.sdk.conftest import (
    EXTRA_ENV,
    PINS,
    TELEMETRY_OPT_OUT,
    VENVS,
    Sdk,
    SdkVenvError,
    Unique,
    build_venv,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def engine() -> Engine:
    found = engine_or_skip()
    image_or_skip(found, TOOLKIT)
    return found


@pytest.fixture(scope="module")
def sdk_in_containers(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sdk]:
    try:
        python = build_venv(VENVS / "v2", PINS["v2"])
    except (SdkVenvError, OSError) as exc:
        pytest.skip(f"SageMaker SDK v2 venv could not be built: {exc}")
    data = tmp_path_factory.mktemp("amt-sdk-containers")
    server: Server = start_server(data, extra_args=["--stop-grace", "3", "--runtime", "auto"])
    config = data.parent / "sdk-containers.yaml"
    config.write_text(TELEMETRY_OPT_OUT)
    yield Sdk(python, server, config, EXTRA_ENV["v2"])
    server.process.stop()
    assert leftovers(engine, data / "jobs") == []


def test_script_mode_tuning_with_the_toolkit_in_containers(
    sdk_in_containers: Sdk, unique: Unique
) -> None:
    name = unique("sdk-ctr")[:32]
    run = sdk_in_containers.run("v2_container_tuner", job=name, image=TOOLKIT)
    result = run.result
    assert result["status"] == "Completed"
    assert result["early_stopping"] == "Auto"
    counters = result["counters"]
    assert counters["Completed"] + counters["Stopped"] == 6
    assert counters["RetryableError"] == counters["NonRetryableError"] == 0
    assert result["best_image"] == TOOLKIT
    assert result["best_model"].endswith(f"/{result['best']}/output/model.tar.gz")
    # the toolkit ran the user's script from the sourcedir.tar.gz the SDK uploaded to our S3
    assert "Invoking script with the following command" in run.output
    assert 'rows=3 hosts=["algo-1"] in_container=True' in run.output
