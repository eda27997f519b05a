"""Script mode and input channels: a framework image runs the user's train.py from an S3
sourcedir.tar.gz with the toolkit's arguments and environment, reading data uploaded to S3."""

from __future__ import annotations

import io
import json
import tarfile

import pytest

from tests.requests import BUCKET, training_request

pytestmark = pytest.mark.slow
PYTORCH_IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.1-cpu-py310"

TRAIN_PY = r"""
import argparse, json, os, pathlib
parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int)
parser.add_argument("--optimizer")
args = parser.parse_args()
data = pathlib.Path(os.environ["SM_CHANNEL_TRAIN"])
rows = sum(len(p.read_text().splitlines()) for p in sorted(data.rglob("*.csv")))
report = {
    "args": vars(args),
    "rows": rows,
    "files": sorted(str(p.relative_to(data)) for p in data.rglob("*") if p.is_file()),
    "model_dir": os.environ["SM_MODEL_DIR"],
    "hps": json.loads(os.environ["SM_HPS"]),
    "hp_env": os.environ.get("SM_HP_OPTIMIZER"),
    "job": os.environ["TRAINING_JOB_NAME"],
    "config": json.loads(
        pathlib.Path(os.environ["SM_INPUT_CONFIG_DIR"], "hyperparameters.json").read_text()
    ),
    "leaked": [k for k in os.environ if k.startswith("PYTEST")],
}
for epoch in range(1, args.epochs + 1):
    print(f"epoch {epoch}: Validation-accuracy={0.5 + epoch / 10:.2f}", flush=True)
pathlib.Path(os.environ["SM_MODEL_DIR"], "report.json").write_text(json.dumps(report))
"""


def sourcedir() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        body = TRAIN_PY.encode()
        info = tarfile.TarInfo("train.py")
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
    return buffer.getvalue()


def test_framework_image_runs_user_script_with_s3_data(server, unique):
    name = unique("script")
    s3 = server.s3
    s3.put_object(
        Bucket=BUCKET,
        Key=f"code/{name}/sourcedir.tar.gz",
        Body=sourcedir(),
        ServerSideEncryption="aws:kms",
    )
    s3.put_object(Bucket=BUCKET, Key=f"data/{name}/train/a.csv", Body=b"1,2\n3,4\n")
    s3.put_object(Bucket=BUCKET, Key=f"data/{name}/train/sub/b.csv", Body=b"5,6\n")
    request = training_request(
        name,
        AlgorithmSpecification={
            "TrainingImage": PYTORCH_IMAGE,
            "MetricDefinitions": [
                {"Name": "validation:accuracy", "Regex": r"Validation-accuracy=([0-9\.]+)"}
            ],
        },
        HyperParameters={
            "learning_rate": None,
            "epochs": "3",
            "optimizer": '"adam"',
            "sagemaker_program": '"train.py"',
            "sagemaker_submit_directory": json.dumps(f"s3://{BUCKET}/code/{name}/sourcedir.tar.gz"),
            "sagemaker_region": '"us-east-1"',
        },
        InputDataConfig=[
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": f"s3://{BUCKET}/data/{name}/train",
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            }
        ],
    )
    server.sagemaker.create_training_job(**request)
    job = server.wait_training(name)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    finals = {m["MetricName"]: m["Value"] for m in job["FinalMetricDataList"]}
    assert finals == {"validation:accuracy": 0.8}

    body = s3.get_object(Bucket=BUCKET, Key=f"output/{name}/output/model.tar.gz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        member = tar.extractfile("report.json")
        assert member is not None
        report = json.loads(member.read())
    assert report["args"] == {"epochs": 3, "optimizer": "adam"}
    assert report["rows"] == 3
    assert report["files"] == ["a.csv", "sub/b.csv"]
    assert report["hps"] == {"epochs": 3, "optimizer": "adam"}
    assert report["hp_env"] == "adam"
    assert report["job"] == name
    assert report["config"]["sagemaker_program"] == '"train.py"'
    assert report["model_dir"].endswith("/model")
    assert report["leaked"] == []
