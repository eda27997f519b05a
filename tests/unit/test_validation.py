"""Request validation against botocore's SageMaker model: constraints, wording, paths, speed."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from botocore.model import ServiceModel

from emulator.errors import SerializationException, UnknownOperationException, ValidationException
from emulator.rules import validation
from emulator.rules.validation import (
    compile_java_pattern,
    operation_names,
    render_value,
    translate_java_pattern,
    validate_input,
)
from tests.requests import training_request, tuning_request

NAME_PATTERN = "[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}"
ARN = "arn:aws:sagemaker:us-east-1:123456789012:hyper-parameter-tuning-job/tune-job"


def message(operation: str, params: dict[str, Any]) -> str:
    with pytest.raises(ValidationException) as exc:
        validate_input(operation, params)
    return exc.value.message


def serialization_message(operation: str, params: dict[str, Any]) -> str:
    with pytest.raises(SerializationException) as exc:
        validate_input(operation, params)
    return exc.value.message


# --- valid requests -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("CreateHyperParameterTuningJob", tuning_request()),
        ("CreateTrainingJob", training_request()),
        ("DescribeHyperParameterTuningJob", {"HyperParameterTuningJobName": "tune-job"}),
        ("ListTrainingJobs", {"MaxResults": 100, "SortBy": "Name", "CreationTimeAfter": 1.5}),
        ("StopHyperParameterTuningJob", {"HyperParameterTuningJobName": "a-1"}),
        ("AddTags", {"ResourceArn": ARN, "Tags": [{"Key": "Ünïcode key 1", "Value": ""}]}),
        ("ListHyperParameterTuningJobs", {}),
    ],
)
def test_valid_requests_pass(operation: str, params: dict[str, Any]) -> None:
    validate_input(operation, params)


def test_unknown_members_are_ignored_and_dropped() -> None:
    params: dict[str, Any] = {
        "HyperParameterTuningJobName": "tune-job",
        "SomeFutureMember": {"x": [1, 2]},
    }
    validate_input("DescribeHyperParameterTuningJob", params)
    assert params == {"HyperParameterTuningJobName": "tune-job"}
    update: dict[str, Any] = {
        "TrainingJobName": "t",
        "ProfilerConfig": {"DisableProfiler": True, "Bogus": 1},
        "ResourceConfig": {"KeepAlivePeriodInSeconds": 60, "k0": 0},
    }
    validate_input("UpdateTrainingJob", update)
    assert update["ProfilerConfig"] == {"DisableProfiler": True}
    assert update["ResourceConfig"] == {"KeepAlivePeriodInSeconds": 60}


def test_integral_float_is_accepted_as_integer() -> None:
    validate_input("ListTrainingJobs", {"MaxResults": 10.0})


# --- wording and paths ------------------------------------------------------------------------


def test_too_long_name_breaks_length_and_pattern_in_aws_wording() -> None:
    name = "a" * 31 + "_-"
    assert message("DescribeHyperParameterTuningJob", {"HyperParameterTuningJobName": name}) == (
        "2 validation errors detected: "
        f"Value '{name}' at 'hyperParameterTuningJobName' failed to satisfy constraint: "
        "Member must have length less than or equal to 32; "
        f"Value '{name}' at 'hyperParameterTuningJobName' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {NAME_PATTERN}"
    )


def test_missing_required_member_is_null() -> None:
    assert message("DescribeHyperParameterTuningJob", {}) == (
        "1 validation error detected: Value null at 'hyperParameterTuningJobName' failed to "
        "satisfy constraint: Member must not be null"
    )


def test_nested_numeric_minimum_has_camel_case_path() -> None:
    request = tuning_request(
        HyperParameterTuningJobConfig={"ResourceLimits": {"MaxParallelTrainingJobs": 0}}
    )
    assert message("CreateHyperParameterTuningJob", request) == (
        "1 validation error detected: Value '0' at "
        "'hyperParameterTuningJobConfig.resourceLimits.maxParallelTrainingJobs' failed to "
        "satisfy constraint: Member must have value greater than or equal to 1"
    )


def test_nested_required_member_missing() -> None:
    request = tuning_request(
        HyperParameterTuningJobConfig={"ResourceLimits": {"MaxParallelTrainingJobs": None}}
    )
    assert (
        "Value null at 'hyperParameterTuningJobConfig.resourceLimits.maxParallelTrainingJobs'"
        in (message("CreateHyperParameterTuningJob", request))
    )


def test_enum_lists_the_allowed_values() -> None:
    request = tuning_request(HyperParameterTuningJobConfig={"Strategy": "Foo"})
    assert message("CreateHyperParameterTuningJob", request).endswith(
        "Value 'Foo' at 'hyperParameterTuningJobConfig.strategy' failed to satisfy constraint: "
        "Member must satisfy enum value set: [Bayesian, Random, Hyperband, Grid]"
    )


def test_numeric_maximum() -> None:
    assert message("ListTrainingJobs", {"MaxResults": 101}) == (
        "1 validation error detected: Value '101' at 'maxResults' failed to satisfy constraint: "
        "Member must have value less than or equal to 100"
    )


def test_list_items_are_addressed_by_one_based_index_and_member() -> None:
    tags = [{"Key": "ok", "Value": "v"}, {"Key": "bad#key", "Value": "v"}]
    text = message("AddTags", {"ResourceArn": ARN, "Tags": tags})
    assert "Value 'bad#key' at 'tags.2.member.key' failed to satisfy constraint: " in text
    assert text.startswith("1 validation error detected")


def test_list_length_maximum_renders_the_list() -> None:
    values = [f"v{i}" for i in range(31)]
    request = tuning_request(
        HyperParameterTuningJobConfig={
            "ParameterRanges": {"CategoricalParameterRanges": [{"Name": "c", "Values": values}]}
        }
    )
    text = message("CreateHyperParameterTuningJob", request)
    assert (
        "at 'hyperParameterTuningJobConfig.parameterRanges.categoricalParameterRanges.1.member"
        ".values' failed to satisfy constraint: Member must have length less than or equal to 30"
    ) in text
    assert "Value '[v0, v1, v2," in text


def test_list_length_minimum_on_empty_list() -> None:
    text = message("DeleteTags", {"ResourceArn": ARN, "TagKeys": []})
    assert text == (
        "1 validation error detected: Value '[]' at 'tagKeys' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1"
    )


def test_map_value_constraints_are_reported_once_at_the_map() -> None:
    request = training_request(HyperParameters={"epochs": "x" * 2501, "lr": "y" * 2600})
    text = message("CreateTrainingJob", request)
    assert text.startswith("1 validation error detected: Value '{epochs=xxx")
    assert text.endswith(
        "at 'hyperParameters' failed to satisfy constraint: Map value must satisfy constraint: "
        "[Member must have length less than or equal to 2500, Member must have length greater "
        "than or equal to 0, Member must satisfy regular expression pattern: .*]"
    )


def test_map_key_constraints() -> None:
    text = message("CreateTrainingJob", training_request(Environment={"1BAD": "v"}))
    assert text == (
        "1 validation error detected: Value '{1BAD=v}' at 'environment' failed to satisfy "
        "constraint: Map keys must satisfy constraint: [Member must have length less than or "
        "equal to 512, Member must have length greater than or equal to 0, Member must satisfy "
        "regular expression pattern: [a-zA-Z_][a-zA-Z0-9_]*]"
    )


def test_map_size_maximum() -> None:
    request = training_request(HyperParameters={f"k{i}": "v" for i in range(101)})
    assert "Member must have length less than or equal to 100" in message(
        "CreateTrainingJob", request
    )


def test_violations_are_counted_in_full_but_listed_up_to_ten() -> None:
    tags = [{"Key": f"bad#{i}", "Value": "v"} for i in range(12)]
    text = message("AddTags", {"ResourceArn": ARN, "Tags": tags})
    assert text.startswith("12 validation errors detected: ")
    assert text.count("failed to satisfy constraint") == 10
    assert "tags.10.member.key" in text
    assert "tags.11.member.key" not in text


def test_several_members_each_report() -> None:
    text = message("ListTrainingJobs", {"MaxResults": 0, "SortBy": "Size", "SortOrder": "Up"})
    assert text.startswith("3 validation errors detected: ")
    assert text.count("; Value ") == 2


def test_string_length_counts_utf16_units_as_java_does() -> None:
    letter = "\U0001d400"  # MATHEMATICAL BOLD CAPITAL A: a letter outside the BMP, 2 units
    validate_input("AddTags", {"ResourceArn": ARN, "Tags": [{"Key": letter * 64, "Value": ""}]})
    text = message("AddTags", {"ResourceArn": ARN, "Tags": [{"Key": letter * 65, "Value": ""}]})
    assert "Member must have length less than or equal to 128" in text


# --- wrong JSON types -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "params", "expected"),
    [
        (
            "DescribeHyperParameterTuningJob",
            {"HyperParameterTuningJobName": 5},
            "Expected a string at 'hyperParameterTuningJobName' but found a number ('5').",
        ),
        (
            "ListTrainingJobs",
            {"MaxResults": "10"},
            "Expected an integer at 'maxResults' but found a string ('10').",
        ),
        (
            "ListTrainingJobs",
            {"MaxResults": True},
            "Expected an integer at 'maxResults' but found a boolean ('true').",
        ),
        (
            "ListTrainingJobs",
            {"MaxResults": 2.5},
            "Expected an integer at 'maxResults' but found a number ('2.5').",
        ),
        (
            "ListTrainingJobs",
            {"MaxResults": 2**31},
            "Expected an integer at 'maxResults'",
        ),
        (
            "ListTrainingJobs",
            {"CreationTimeAfter": "2024-01-01"},
            "Expected a timestamp in epoch seconds at 'creationTimeAfter'",
        ),
        (
            "CreateTrainingJob",
            training_request(ResourceConfig=[1]),
            "Expected an object at 'resourceConfig' but found a list ('[1]').",
        ),
        (
            "CreateTrainingJob",
            training_request(InputDataConfig={"ChannelName": "train"}),
            "Expected a list at 'inputDataConfig' but found an object",
        ),
        (
            "CreateTrainingJob",
            training_request(HyperParameters={"epochs": 3}),
            "Expected a string at 'hyperParameters.epochs' but found a number ('3').",
        ),
        (
            "CreateTrainingJob",
            training_request(EnableManagedSpotTraining="yes"),
            "Expected a boolean at 'enableManagedSpotTraining' but found a string ('yes').",
        ),
    ],
)
def test_wrong_json_types_are_serialization_errors_naming_the_member(
    operation: str, params: dict[str, Any], expected: str
) -> None:
    assert serialization_message(operation, params).startswith(expected)


def test_a_body_that_is_not_an_object() -> None:
    text = serialization_message("DescribeHyperParameterTuningJob", [])  # type: ignore[arg-type]
    assert "top level of the request body" in text


# --- operations -------------------------------------------------------------------------------


def test_operation_names_come_from_the_model() -> None:
    names = operation_names()
    assert {
        "CreateHyperParameterTuningJob",
        "DescribeHyperParameterTuningJob",
        "ListTrainingJobsForHyperParameterTuningJob",
        "StopTrainingJob",
        "AddTags",
    } <= names
    assert len(names) > 300
    assert "UpdateHyperParameterTuningJob" not in names


def test_unknown_operation() -> None:
    with pytest.raises(UnknownOperationException):
        validate_input("LaunchRocket", {})


def test_describe_is_validated_well_under_a_tenth_of_a_millisecond() -> None:
    params = {"HyperParameterTuningJobName": "tune-job-1"}
    validation.prepare(["DescribeHyperParameterTuningJob"])
    n = 2000
    start = time.perf_counter()
    for _ in range(n):
        validate_input("DescribeHyperParameterTuningJob", params)
    per_call = (time.perf_counter() - start) / n
    assert per_call < 50e-6


# --- Java patterns ----------------------------------------------------------------------------


def _all_model_patterns() -> set[str]:
    model = validation._model()
    shapes = [model.shape_for(name) for name in model.shape_names]
    return {s.metadata["pattern"] for s in shapes if "pattern" in s.metadata}


def test_every_pattern_of_the_model_compiles() -> None:
    patterns = _all_model_patterns()
    assert len(patterns) > 100
    for pattern in patterns:
        compile_java_pattern(pattern)


def test_unicode_property_classes_inside_a_class() -> None:
    tag = compile_java_pattern(r"([\p{L}\p{Z}\p{N}_.:\/=+\-@]*)${1,128}")
    for ok in ("abc", "héllo wörld", "日本語", "٣", "a_b.c:d/e=f+g-h@i", ""):
        assert tag.fullmatch(ok), ok
    for bad in ("a#b", "tab\there", "emoji\U0001f600", "new\nline"):
        assert not tag.fullmatch(bad), bad


def test_unicode_property_outside_a_class_becomes_a_class() -> None:
    regex = re.compile(translate_java_pattern(r"\p{N}+x"))
    assert regex.fullmatch("12٣x")
    assert not regex.fullmatch("ax")


def test_posix_alnum() -> None:
    assert translate_java_pattern(r"[\p{Alnum}\-]+") == r"[a-zA-Z0-9\-]+"


def test_surrogate_pair_escapes_become_one_code_point_range() -> None:
    regex = compile_java_pattern(r"[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\t]*")
    assert regex.fullmatch("plain\ttext \U0001f600 \U0010fffd")
    assert not regex.fullmatch("bell\x07")


def test_java_dot_matches_no_line_terminator() -> None:
    regex = compile_java_pattern(".*")
    assert regex.fullmatch("any text")
    for terminator in ("\n", "\r", "\u0085", "\u2028", "\u2029"):
        assert not regex.fullmatch(f"a{terminator}b")


def test_escaped_backslash_before_p_is_left_alone() -> None:
    assert translate_java_pattern(r"a\\p") == r"a\\p"
    assert translate_java_pattern(r"[.]\.") == r"[.]\."


def test_unsupported_property_is_refused() -> None:
    with pytest.raises(ValueError, match="InGreek"):
        translate_java_pattern(r"\p{InGreek}")


# --- rendering and the builder on hand-made shapes --------------------------------------------


def test_render_value_as_java_prints() -> None:
    assert render_value(True) == "true"
    assert render_value(3.0) == "3"
    assert render_value(0.25) == "0.25"
    assert render_value(["a", 1]) == "[a, 1]"
    assert render_value({"k": "v", "n": False}) == "{k=v, n=false}"


def _tiny_model() -> ServiceModel:
    return ServiceModel(
        {
            "metadata": {"protocol": "json", "serviceId": "Tiny", "apiVersion": "2024-01-01"},
            "operations": {},
            "shapes": {
                "Node": {
                    "type": "structure",
                    "required": ["Name"],
                    "members": {"Name": {"shape": "Short"}, "Child": {"shape": "Node"}},
                },
                "Choice": {
                    "type": "structure",
                    "union": True,
                    "members": {"A": {"shape": "Short"}, "B": {"shape": "Short"}},
                },
                "Short": {"type": "string", "max": 3},
            },
        }
    )


def test_recursive_shapes_validate_at_every_depth() -> None:
    check = validation._CheckBuilder().build(_tiny_model().shape_for("Node"))
    violations: list[validation.Violation] = []
    check({"Name": "a", "Child": {"Name": "b", "Child": {"Name": "long"}}}, "", violations)
    assert violations == [
        ("long", "child.child.name", "Member must have length less than or equal to 3")
    ]
    violations.clear()
    check({"Name": "a", "Child": {}}, "", violations)
    assert violations == [(None, "child.name", "Member must not be null")]


def test_union_needs_exactly_one_member() -> None:
    check = validation._CheckBuilder().build(_tiny_model().shape_for("Choice"))
    violations: list[validation.Violation] = []
    check({"A": "x"}, "choice", violations)
    assert violations == []
    check({"A": "x", "B": "y"}, "choice", violations)
    assert [v[2] for v in violations] == ["Member must have exactly one member set"]
