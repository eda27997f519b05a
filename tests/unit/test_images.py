"""Image resolution (mapped commands, framework script mode) and safe extraction of the
user's source code."""

from __future__ import annotations

import io
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from agents.channels import UnsafePath, fetch_source, safe_extract
from agents.contract import ClientError
from agents.images import ImageError, is_framework_image, mapped_command, plan

PY = "/usr/bin/python3"
SKLEARN = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"


def job(image: str, hps: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    return {
        "TrainingJobName": "j",
        "AlgorithmSpecification": {"TrainingImage": image, **spec},
        "HyperParameters": hps or {},
    }


def test_exact_mapping_beats_a_glob() -> None:
    images = {"repo/*": "glob-cmd", "repo/algo:1": "exact-cmd"}
    assert mapped_command("repo/algo:1", images) == "exact-cmd"
    assert mapped_command("repo/algo:2", images) == "glob-cmd"
    assert mapped_command("other/algo:1", images) is None


def test_a_mapped_image_runs_its_command_without_train_appended() -> None:
    result = plan(job("repo/algo:1"), {"repo/algo:1": "python 'my train.py' --fast"}, PY)
    assert result.argv == ["python", "my train.py", "--fast"]
    assert not result.script_mode


def test_container_entrypoint_replaces_and_arguments_extend_like_docker() -> None:
    images = {"repo/algo:1": "python train.py"}
    both = job(
        "repo/algo:1", ContainerEntrypoint=["bash", "run.sh"], ContainerArguments=["--a", "1"]
    )
    assert plan(both, images, PY).argv == ["bash", "run.sh", "--a", "1"]
    only_args = job("repo/algo:1", ContainerArguments=["serve"])
    assert plan(only_args, images, PY).argv == ["python", "train.py", "serve"]


def test_a_mapping_wins_over_script_mode_for_a_framework_image() -> None:
    hps = {"sagemaker_program": '"train.py"'}
    assert plan(job(SKLEARN, hps), {SKLEARN: "my-cmd"}, PY).argv == ["my-cmd"]


@pytest.mark.parametrize(
    "image",
    [
        "763104351884.dkr.ecr.us-west-2.amazonaws.com/pytorch-training:2.1-gpu-py310",
        "763104351884.dkr.ecr.us-east-1.amazonaws.com/tensorflow-training:2.13-cpu-py310",
        "763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-training:2.0-gpu",
        "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
        SKLEARN,
        "763104351884.dkr.ecr.us-east-1.amazonaws.com/mxnet-training@sha256:abc",
    ],
)
def test_framework_images_are_recognised(image: str) -> None:
    assert is_framework_image(image)


@pytest.mark.parametrize("image", ["my/pytorch-training-fork:1", "pytorch-training", "x/y:1"])
def test_other_images_are_not_framework_images(image: str) -> None:
    assert not is_framework_image(image)


def test_script_mode_runs_the_program_with_sorted_user_hyperparameters() -> None:
    hps = {
        "sagemaker_program": '"train.py"',
        "sagemaker_submit_directory": '"s3://b/code/sourcedir.tar.gz"',
        "sagemaker_region": '"us-east-1"',
        "_tuning_objective_metric": "loss",
        "lr": "0.1",
        "b": "32",
        "config": '{"depth": 3, "act": "relu"}',
        "optimizer": '"adam"',
        "name": "raw text",
    }
    result = plan(job(SKLEARN, hps), {}, PY)
    assert result.script_mode
    assert result.program == "train.py"
    assert result.submit_directory == "s3://b/code/sourcedir.tar.gz"
    assert result.argv == [
        PY,
        "train.py",
        "-b",
        "32",
        "--config",
        "depth=3,act=relu",
        "--lr",
        "0.1",
        "--name",
        "raw text",
        "--optimizer",
        "adam",
    ]


def test_script_mode_runs_a_non_python_program_through_the_shell() -> None:
    hps = {"sagemaker_program": '"run.sh"', "epochs": "2", "msg": '"a b"'}
    result = plan(job(SKLEARN, hps), {}, PY)
    assert result.argv == ["/bin/sh", "-c", "./run.sh --epochs 2 --msg 'a b'"]


def test_script_mode_settings_from_the_environment_win() -> None:
    spec = job(SKLEARN, {"sagemaker_program": '"train.py"'})
    spec["Environment"] = {"SAGEMAKER_PROGRAM": "main.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/src"}
    result = plan(spec, {}, PY)
    assert result.argv == [PY, "main.py"]
    assert result.submit_directory == "/src"


def test_a_framework_image_without_a_program_says_what_is_missing() -> None:
    with pytest.raises(ImageError, match="sagemaker_program"):
        plan(job(SKLEARN, {"epochs": "1"}), {}, PY)


def test_an_unmapped_image_names_the_fix() -> None:
    with pytest.raises(ImageError) as error:
        plan(job("example.com/mine:1"), {"other": "x"}, PY)
    assert "--image 'example.com/mine:1=<command>'" in str(error.value)
    assert "[images]" in str(error.value)
    assert isinstance(error.value, ClientError)


# ---- source code: tarballs and directories ----------------------------------------------------


def tarball(path: Path, *members: tarfile.TarInfo, data: bytes = b"print(1)\n") -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info in members:
            if info.isfile():
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return path


def member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    return info


def test_a_source_tarball_is_extracted(tmp_path: Path) -> None:
    archive = tarball(
        tmp_path / "src.tar.gz",
        member("train.py"),
        member("pkg", tarfile.DIRTYPE),
        member("pkg/util.py"),
        member("pkg/alias.py", tarfile.SYMTYPE, "util.py"),
    )
    target = tmp_path / "code"
    safe_extract(archive, target)
    assert (target / "train.py").read_text() == "print(1)\n"
    assert (target / "pkg" / "alias.py").resolve() == (target / "pkg" / "util.py").resolve()


@pytest.mark.parametrize(
    "bad",
    [
        member("../escape.py"),
        member("/tmp/absolute.py"),
        member("a/../../escape.py"),
        member("link", tarfile.SYMTYPE, "/etc/passwd"),
        member("pkg/link", tarfile.SYMTYPE, "../../outside"),
        member("hard", tarfile.LNKTYPE, "../outside"),
        member("fifo", tarfile.FIFOTYPE),
        member("dev", tarfile.CHRTYPE),
    ],
    ids=lambda m: m.name,
)
def test_members_escaping_the_code_dir_are_refused(tmp_path: Path, bad: tarfile.TarInfo) -> None:
    archive = tarball(tmp_path / "bad.tar.gz", member("ok.py"), bad)
    target = tmp_path / "deep" / "code"
    with pytest.raises(UnsafePath):
        safe_extract(archive, target)
    assert not target.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.tar.gz"]


def test_a_corrupt_tarball_is_a_client_error(tmp_path: Path) -> None:
    archive = tmp_path / "src.tar.gz"
    archive.write_bytes(b"not a tarball")
    with pytest.raises(ClientError, match="cannot extract"):
        safe_extract(archive, tmp_path / "code")


def test_a_local_source_directory_is_copied(tmp_path: Path) -> None:
    source = tmp_path / "src"
    (source / "pkg").mkdir(parents=True)
    (source / "train.py").write_text("x = 1\n")
    (source / "pkg" / "m.py").write_text("y = 2\n")
    code = tmp_path / "code"
    code.mkdir()
    fetch_source(source.as_uri(), code, client=None)
    assert (code / "train.py").read_text() == "x = 1\n"
    assert (code / "pkg" / "m.py").read_text() == "y = 2\n"


def test_a_missing_local_source_is_a_client_error(tmp_path: Path) -> None:
    with pytest.raises(ClientError, match="does not exist"):
        fetch_source(str(tmp_path / "nowhere"), tmp_path / "code", client=None)


def test_python_for_script_mode_is_the_one_given() -> None:
    result = plan(job(SKLEARN, {"sagemaker_program": "train.py"}), {}, sys.executable)
    assert result.argv == [sys.executable, "train.py"]
