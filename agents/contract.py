"""SageMaker's training container contract: the /opt/ml layout, its config files and the
`SM_*` environment the training toolkit (sagemaker-training) derives from them.

`JobLayout` knows two roots: `host_dir`, where the files really are, and `container_dir`, the
path the program sees (`/opt/ml` inside a private mount namespace, else the host directory,
announced to the program through `SAGEMAKER_BASE_DIR` as the toolkit reads it).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FRAMEWORK_PREFIX = "sagemaker_"
RESERVED = frozenset({"_tuning_objective_metric"})
PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "TMPDIR", "TZ")
HOST = "algo-1"
GROUP = "homogeneousCluster"
DUMMY_CREDENTIAL = "amt-emulator"
CHANNEL_NAME = re.compile(r"[A-Za-z0-9._-]+")
JOB_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
KEPT_ACROSS_ATTEMPTS = frozenset({"checkpoints"})


class ClientError(Exception):
    """The job as submitted cannot run here (its request, data or image map is wrong): it
    fails with this message as FailureReason and is not retried, like the toolkit's
    `ClientError`."""


@dataclass(frozen=True)
class JobLayout:
    host_dir: Path
    container_dir: Path

    def host(self, *parts: str) -> Path:
        return self.host_dir.joinpath(*parts)

    def seen(self, *parts: str) -> str:
        return str(self.container_dir.joinpath(*parts))


@dataclass(frozen=True)
class HostResources:
    """What the agent gives the job: counts for SM_NUM_*, GPU ids for CUDA_VISIBLE_DEVICES."""

    num_cpus: int
    num_gpus: int = 0
    gpu_ids: tuple[int, ...] = ()


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


def framework_parameters(hyperparameters: Mapping[str, str]) -> dict[str, Any]:
    return {
        k: decode_value(v) for k, v in hyperparameters.items() if k.startswith(FRAMEWORK_PREFIX)
    }


def to_cmd_args(hyperparameters: Mapping[str, Any]) -> list[str]:
    """`--key value` pairs sorted by key (`-k` for one-letter keys), dicts as `k=v,k2=v2`,
    as the toolkit's `mapping.to_cmd_args` builds them."""
    args: list[str] = []
    for key in sorted(hyperparameters):
        value = hyperparameters[key]
        if isinstance(value, dict):
            text = ",".join(f"{k}={v}" for k, v in value.items())
        else:
            text = str(value)
        args += [f"-{key}" if len(key) == 1 else f"--{key}", text]
    return args


def job_dir(work_dir: Path, job: Mapping[str, Any]) -> Path:
    """`work_dir/<TrainingJobName>`; a name that is not a SageMaker job name is refused."""
    name = str(job.get("TrainingJobName", ""))
    if not JOB_NAME.fullmatch(name):
        raise ClientError(f"ClientError: Invalid training job name {name!r}.")
    return work_dir / name


def channel_names(job: Mapping[str, Any]) -> list[str]:
    """The job's channels; a name that could leave input/data/ rejects the job."""
    names = [str(c.get("ChannelName", "")) for c in job.get("InputDataConfig") or []]
    for name in names:
        if not CHANNEL_NAME.fullmatch(name) or set(name) == {"."}:
            raise ClientError(f"ClientError: Invalid channel name {name!r}.")
    return names


def resource_config(job: Mapping[str, Any]) -> dict[str, Any]:
    instance_type = (job.get("ResourceConfig") or {}).get("InstanceType", "local")
    return {
        "current_host": HOST,
        "current_instance_type": instance_type,
        "current_group_name": GROUP,
        "hosts": [HOST],
        "instance_groups": [
            {"instance_group_name": GROUP, "instance_type": instance_type, "hosts": [HOST]}
        ],
        "network_interface_name": "eth0",
    }


def input_data_config(job: Mapping[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    default_mode = (job.get("AlgorithmSpecification") or {}).get("TrainingInputMode", "File")
    for channel in job.get("InputDataConfig") or []:
        s3 = (channel.get("DataSource") or {}).get("S3DataSource") or {}
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
    """Lay out a fresh job directory with its config files (before data is fetched).

    Whatever an earlier attempt of the same job left is removed, except its checkpoints, so
    a stale model or failure file can never be mistaken for this attempt's."""
    names = channel_names(job)
    if layout.host_dir.is_dir():
        for child in layout.host_dir.iterdir():
            if child.name in KEPT_ACROSS_ATTEMPTS:
                continue
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    for part in ("input/config", "model", "output/data", "checkpoints", "code"):
        layout.host(*part.split("/")).mkdir(parents=True, exist_ok=True)
    for name in names:
        layout.host("input", "data", name).mkdir(parents=True, exist_ok=True)
    files = {
        "hyperparameters.json": dict(job.get("HyperParameters") or {}),
        "inputdataconfig.json": input_data_config(job),
        "resourceconfig.json": resource_config(job),
    }
    for name, body in files.items():
        layout.host("input", "config", name).write_text(json.dumps(body))


def env_value(value: Any) -> str:
    """The toolkit's rendering of a value in the environment: strings as they are, everything
    else compact JSON with sorted keys."""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def toolkit_properties(
    layout: JobLayout,
    job: Mapping[str, Any],
    resources: HostResources,
    entry_point: str,
    module_dir: str | None,
) -> dict[str, Any]:
    """The toolkit's `Environment` properties; each becomes `SM_<NAME>` in the environment."""
    hps = dict(job.get("HyperParameters") or {})
    user = user_hyperparameters(hps)
    config = resource_config(job)
    return {
        "hosts": [HOST],
        "current_host": HOST,
        "current_instance_type": config["current_instance_type"],
        "current_instance_group": GROUP,
        "current_instance_group_hosts": [HOST],
        "instance_groups": [GROUP],
        "instance_groups_dict": {g["instance_group_name"]: g for g in config["instance_groups"]},
        "is_hetero": False,
        "network_interface_name": "eth0",
        "hps": user,
        "user_args": to_cmd_args(user),
        "framework_params": framework_parameters(hps),
        "user_entry_point": entry_point,
        "module_name": entry_point.removesuffix(".py"),
        "module_dir": module_dir or layout.seen("code"),
        "resource_config": config,
        "input_data_config": input_data_config(job),
        "channels": channel_names(job),
        "log_level": 20,
        "num_cpus": resources.num_cpus,
        "num_gpus": resources.num_gpus,
        "input_dir": layout.seen("input"),
        "input_config_dir": layout.seen("input", "config"),
        "model_dir": layout.seen("model"),
        "output_dir": layout.seen("output"),
        "output_data_dir": layout.seen("output", "data"),
        "output_intermediate_dir": layout.seen("output", "intermediate"),
    }


def training_env(properties: Mapping[str, Any], layout: JobLayout, job_name: str) -> dict[str, Any]:
    """`SM_TRAINING_ENV`: the same facts under the names the toolkit's JSON uses."""
    renamed = {"hps": "hyperparameters", "framework_params": "additional_framework_parameters"}
    body = {renamed.get(k, k): v for k, v in properties.items() if k != "channels"}
    body["channel_input_dirs"] = {
        c: layout.seen("input", "data", c) for c in properties["channels"]
    }
    body.update(job_name=job_name, is_master=True, master_hostname=HOST)
    return body


def job_region(job: Mapping[str, Any], default: str) -> str:
    """The region the job was created in (its ARN's), where its program's AWS calls belong;
    `default` (the agent's) for a job without one."""
    parts = str(job.get("TrainingJobArn", "")).split(":")
    return parts[3] if len(parts) > 5 and parts[3] else default


def job_account(job: Mapping[str, Any]) -> str | None:
    """The account the job was created in (its ARN's), whose S3 buckets it reads and writes."""
    parts = str(job.get("TrainingJobArn", "")).split(":")
    return parts[4] if len(parts) > 5 and parts[4] else None


def environment(
    layout: JobLayout,
    job: Mapping[str, Any],
    resources: HostResources,
    *,
    region: str,
    endpoint_url: str | None,
    credentials: tuple[str, str] = (DUMMY_CREDENTIAL, DUMMY_CREDENTIAL),
    entry_point: str = "",
    module_dir: str | None = None,
) -> dict[str, str]:
    """The process environment: the contract's variables and nothing of the server's own
    beyond a minimal allow-list; the job's `Environment` entries win over everything."""
    name = str(job["TrainingJobName"])
    region = job_region(job, region)
    properties = toolkit_properties(layout, job, resources, entry_point, module_dir)
    env = {k: os.environ[k] for k in PASSED_THROUGH if k in os.environ}
    env.update({f"SM_{k.upper()}": env_value(v) for k, v in properties.items()})
    env["SM_TRAINING_ENV"] = env_value(training_env(properties, layout, name))
    for channel in properties["channels"]:
        env[f"SM_CHANNEL_{channel.upper()}"] = layout.seen("input", "data", channel)
    for key, value in properties["hps"].items():
        env[f"SM_HP_{key.upper()}"] = env_value(value)
    python_path = [layout.seen("code"), os.environ.get("PYTHONPATH", "")]
    env.update(
        {
            "TRAINING_JOB_NAME": name,
            "TRAINING_JOB_ARN": str(job.get("TrainingJobArn", "")),
            "CURRENT_HOST": HOST,
            "SAGEMAKER_JOB_NAME": name,
            "SAGEMAKER_REGION": region,
            "PYTHONPATH": os.pathsep.join(p for p in python_path if p),
            "PYTHONUNBUFFERED": "1",
            "CUDA_VISIBLE_DEVICES": ",".join(str(i) for i in resources.gpu_ids),
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_ACCESS_KEY_ID": credentials[0],
            "AWS_SECRET_ACCESS_KEY": credentials[1],
        }
    )
    if layout.container_dir != Path("/opt/ml"):
        env["SAGEMAKER_BASE_DIR"] = str(layout.container_dir)
    if endpoint_url:
        env["AWS_ENDPOINT_URL"] = endpoint_url
        env["S3_ENDPOINT_URL"] = endpoint_url
    env.update({str(k): str(v) for k, v in (job.get("Environment") or {}).items()})
    return env
