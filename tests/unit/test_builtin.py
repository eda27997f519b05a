"""The built-in algorithm registry: which images it recognises, and that the official metric
regexes read the lines the fixtures really print."""

from __future__ import annotations

import pytest

from agents.metrics import MetricExtractor
from emulator.domain.builtin import builtin_for, builtin_metrics, metric_definitions_for, repository
from fixtures.algorithms.image_classification import print_metrics
from fixtures.algorithms.xgboost_tabular import round_line

IC = "image_classification.py"
XGB = "xgboost_tabular.py"


@pytest.mark.parametrize(
    ("image", "script"),
    [
        ("433757028032.dkr.ecr.us-west-2.amazonaws.com/image-classification:1", IC),
        ("811284229777.dkr.ecr.us-east-1.amazonaws.com/image-classification:latest", IC),
        ("390948362332.dkr.ecr.cn-north-1.amazonaws.com.cn/image-classification:1", IC),
        ("501404015308.dkr.ecr.ap-northeast-1.amazonaws.com/image-classification", IC),
        ("811284229777.dkr.ecr.us-east-1.amazonaws.com/xgboost:1", XGB),
        ("246618743249.dkr.ecr.us-west-2.amazonaws.com/sagemaker-xgboost:1.7-1", XGB),
        ("683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:0.90-2-cpu-py3", XGB),
        ("246618743249.dkr.ecr.us-west-2.amazonaws.com/sagemaker-xgboost@sha256:" + "a" * 64, XGB),
    ],
)
def test_builtin_images_of_any_region_account_and_tag_are_recognised(image, script):
    algorithm = builtin_for(image)
    assert algorithm is not None
    assert algorithm.script.name == script
    assert algorithm.script.is_file()
    assert algorithm.argv("/venv/bin/python") == ["/venv/bin/python", str(algorithm.script)]


@pytest.mark.parametrize(
    "image",
    [
        "763104351884.dkr.ecr.us-west-2.amazonaws.com/pytorch-training:2.1-cpu-py310",
        "123456789012.dkr.ecr.us-west-2.amazonaws.com/my-image-classification:1",
        "123456789012.dkr.ecr.us-west-2.amazonaws.com/image-classification-custom:1",
        "local/sklearn-sgd",
        "",
    ],
)
def test_other_images_are_not_builtin(image):
    assert builtin_for(image) is None
    assert builtin_metrics(image) == []


def test_sagemaker_xgboost_with_a_script_is_script_mode_and_legacy_xgboost_stays_builtin():
    framework = "246618743249.dkr.ecr.us-west-2.amazonaws.com/sagemaker-xgboost:1.7-1"
    legacy = "811284229777.dkr.ecr.us-east-1.amazonaws.com/xgboost:1"
    assert builtin_for(framework, program="train.py") is None
    assert builtin_for(framework, program="") is not None
    assert builtin_for(legacy, program="train.py") is not None


def test_repository_is_the_last_path_component_without_tag_or_digest():
    assert repository("a.dkr.ecr.r.amazonaws.com/team/image-classification:1") == (
        "image-classification"
    )
    assert repository("xgboost@sha256:abc") == "xgboost"


def test_builtin_metric_names_are_the_documented_objectives():
    ic = builtin_metrics("1.dkr.ecr.us-west-2.amazonaws.com/image-classification:1")
    assert ic == ["train:accuracy", "validation:accuracy"]
    xgb = builtin_metrics("1.dkr.ecr.us-west-2.amazonaws.com/xgboost:1")
    for name in ("validation:auc", "validation:logloss", "validation:error", "train:rmse"):
        assert name in xgb


def extractor(image: str) -> MetricExtractor:
    algorithm = builtin_for(image)
    assert algorithm is not None
    return MetricExtractor.from_definitions(algorithm.metric_definitions)


def test_image_classification_regexes_read_the_fixture_lines(capsys):
    print_metrics(3, "Train", {"accuracy": 0.912, "top_k_accuracy_2": 0.97})
    print_metrics(3, "Validation", {"accuracy": 0.874, "cross_entropy": 0.4})
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Epoch[3] Train-accuracy=0.912000"
    read = extractor("9.dkr.ecr.eu-west-1.amazonaws.com/image-classification:1")
    points = [point for line in lines for point in read.extract(line)]
    assert points == [("train:accuracy", 0.912), ("validation:accuracy", 0.874)]


def test_xgboost_regexes_read_the_fixture_lines():
    line = round_line(
        12,
        {
            "train": {"logloss": 0.1234, "auc": 0.99},
            "validation": {"logloss": 0.2345, "auc": 0.98, "error": 0.05},
        },
    )
    assert line.startswith("[12]#011train-logloss:0.12340#011train-auc:0.99000")
    points = dict(extractor("9.dkr.ecr.eu-west-1.amazonaws.com/xgboost:1").extract(line))
    assert points == {
        "train:auc": 0.99,
        "train:logloss": 0.1234,
        "validation:auc": 0.98,
        "validation:error": 0.05,
        "validation:logloss": 0.2345,
    }


def test_xgboost_regexes_ignore_lines_without_a_round_number():
    read = extractor("9.dkr.ecr.eu-west-1.amazonaws.com/xgboost:1")
    assert read.extract("#011validation-auc:0.5") == []


def test_job_definitions_win_over_builtin_ones():
    image = "9.dkr.ecr.eu-west-1.amazonaws.com/image-classification:1"
    own = [{"Name": "acc", "Regex": "acc=(\\S+)"}]
    spec = {"TrainingImage": image, "MetricDefinitions": own}
    assert metric_definitions_for(spec, None) == own
    names = [d["Name"] for d in metric_definitions_for({"TrainingImage": image}, None)]
    assert names == ["train:accuracy", "validation:accuracy"]


def test_script_mode_jobs_get_no_builtin_definitions():
    spec = {"TrainingImage": "9.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1"}
    assert metric_definitions_for(spec, "train.py") == []
    assert metric_definitions_for(spec, "") != []
