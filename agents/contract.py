"""SageMaker's training container contract: the /opt/ml layout, its config files and the
`SM_*` environment the training toolkit derives from them.

`JobLayout` knows two roots: `host_dir`, where the files really are, and `container_dir`, the
path the program sees (`/opt/ml` inside a private mount namespace, else the host directory).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FRAMEWORK_PREFIX = "sagemaker_"
RESERVED = frozenset({"_tuning_objective_metric"})
PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TZ")


@dataclass(frozen=True)
class JobLayout:
    host_dir: Path
    container_dir: Path

    def host(self, *parts: str) -> Path:
        return self.host_dir.joinpath(*parts)

    def seen(self, *parts: str) -> str:
        return str(self.container_dir.joinpath(*parts))


def decode_value(text: str) -> Any:
    """As the toolkit reads hyperparameters: JSON when it parses, else the raw string."""
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


def user_hyperparameters(hyperparameters: Mapping[str, str]) -> dict[str, Any]:
    """What reaches the user's program: no `sagemaker_*` framework keys, no tuning internals."""
    return {
        k: decode_value(v)
        for k, v in hyperparameters.items()
        if not k.startswith(FRAMEWORK_PREFIX) and k not in RESERVED
    }


def channel_names(job: Mapping[str, Any]) -> list[str]:
    return [c["ChannelName"] for c in job.get("InputDataConfig", [])]


def resource_config(job: Mapping[str, Any]) -> dict[str, Any]:
    instance_type = job.get("ResourceConfig", {}).get("InstanceType", "local")
    return {
        "current_host": "algo-1",
        "current_instance_type": instance_type,
        "current_group_name": "homogeneousCluster",
        "hosts": ["algo-1"],
        "instance_groups": [
            {
                "instance_group_name": "homogeneousCluster",
                "instance_type": instance_type,
                "hosts": ["algo-1"],
            }
        ],
        "network_interface_name": "eth0",
    }


def input_data_config(job: Mapping[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    default_mode = job.get("AlgorithmSpecification", {}).get("TrainingInputMode", "File")
    for channel in job.get("InputDataConfig", []):
        s3 = channel.get("DataSource", {}).get("S3DataSource", {})
        entry = {
            "TrainingInputMode": channel.get("InputMode", default_mode),
            "S3DistributionType": s3.get("S3DataDistributionType", "FullyReplicated"),
            "RecordWrapperType": channel.get("RecordWrapperType", "None"),
        }
        if "ContentType" in channel:
            entry["ContentType"] = channel["ContentType"]
        config[channel["ChannelName"]] = entry
    return config


def prepare(layout: JobLayout, job: Mapping[str, Any]) -> None:
    """Create the directories and config files of the contract (before data is fetched)."""
    for part in ("input/config", "input/data", "model", "output/data", "checkpoints", "code"):
        layout.host(*part.split("/")).mkdir(parents=True, exist_ok=True)
    for name in channel_names(job):
        layout.host("input", "data", name).mkdir(parents=True, exist_ok=True)
    files = {
        "hyperparameters.json": dict(job.get("HyperParameters", {})),
        "inputdataconfig.json": input_data_config(job),
        "resourceconfig.json": resource_config(job),
    }
    for name, body in files.items():
        layout.host("input", "config", name).write_text(json.dumps(body))
    layout.host("output", "failure").unlink(missing_ok=True)


def _env_value(value: Any) -> str:
    return (
        value
        if isinstance(value, str)
        else json.dumps(value, sort_keys=True, separators=(",", ":"))
    )


def environment(
    layout: JobLayout,
    job: Mapping[str, Any],
    *,
    num_gpus: int,
    gpu_ids: tuple[int, ...],
    num_cpus: int,
    region: str,
    endpoint_url: str | None,
    entry_point: str = "",
    user_args: list[str] | None = None,
) -> dict[str, str]:
    """The process environment: the contract's variables and nothing of the server's own."""
    hps = dict(job.get("HyperParameters", {}))
    user = user_hyperparameters(hps)
    framework = {k: decode_value(v) for k, v in hps.items() if k.startswith(FRAMEWORK_PREFIX)}
    channels = channel_names(job)
    resources = resource_config(job)
    training_env: dict[str, Any] = {
        "channel_input_dirs": {c: layout.seen("input", "data", c) for c in channels},
        "current_host": "algo-1",
        "current_instance_type": resources["current_instance_type"],
        "hosts": ["algo-1"],
        "hyperparameters": user,
        "framework_module": None,
        "input_config_dir": layout.seen("input", "config"),
        "input_data_config": input_data_config(job),
        "input_dir": layout.seen("input"),
        "job_name": job["TrainingJobName"],
        "log_level": 20,
        "model_dir": layout.seen("model"),
        "module_dir": layout.seen("code"),
        "network_interface_name": "eth0",
        "num_cpus": num_cpus,
        "num_gpus": num_gpus,
        "output_data_dir": layout.seen("output", "data"),
        "output_dir": layout.seen("output"),
        "resource_config": resources,
        "user_entry_point": entry_point,
    }
    env = {k: os.environ[k] for k in PASSED_THROUGH if k in os.environ}
    env.update(
        {
            "SM_HPS": _env_value(user),
            "SM_CHANNELS": _env_value(channels),
            "SM_MODEL_DIR": layout.seen("model"),
            "SM_OUTPUT_DATA_DIR": layout.seen("output", "data"),
            "SM_OUTPUT_DIR": layout.seen("output"),
            "SM_OUTPUT_INTERMEDIATE_DIR": layout.seen("output", "intermediate"),
            "SM_INPUT_DIR": layout.seen("input"),
            "SM_INPUT_CONFIG_DIR": layout.seen("input", "config"),
            "SM_MODULE_DIR": layout.seen("code"),
            "SM_NUM_GPUS": str(num_gpus),
            "SM_NUM_CPUS": str(num_cpus),
            "SM_HOSTS": _env_value(["algo-1"]),
            "SM_CURRENT_HOST": "algo-1",
            "SM_CURRENT_INSTANCE_TYPE": resources["current_instance_type"],
            "SM_NETWORK_INTERFACE_NAME": "eth0",
            "SM_RESOURCE_CONFIG": _env_value(resources),
            "SM_INPUT_DATA_CONFIG": _env_value(input_data_config(job)),
            "SM_FRAMEWORK_PARAMS": _env_value(framework),
            "SM_USER_ENTRY_POINT": entry_point,
            "SM_USER_ARGS": _env_value(user_args or []),
            "SM_LOG_LEVEL": "20",
            "SM_TRAINING_ENV": _env_value(training_env),
            "SAGEMAKER_BASE_DIR": str(layout.container_dir),
            "TRAINING_JOB_NAME": job["TrainingJobName"],
            "TRAINING_JOB_ARN": job.get("TrainingJobArn", ""),
            "CUDA_VISIBLE_DEVICES": ",".join(str(i) for i in gpu_ids),
            "PYTHONUNBUFFERED": "1",
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_ACCESS_KEY_ID": "amt-emulator",
            "AWS_SECRET_ACCESS_KEY": "amt-emulator",
        }
    )
    if endpoint_url:
        env["AWS_ENDPOINT_URL"] = endpoint_url
        env["S3_ENDPOINT_URL"] = endpoint_url
    for channel in channels:
        env[f"SM_CHANNEL_{channel.upper()}"] = layout.seen("input", "data", channel)
    for key, value in user.items():
        env[f"SM_HP_{key.upper()}"] = _env_value(value)
    env.update({str(k): str(v) for k, v in job.get("Environment", {}).items()})
    return env
