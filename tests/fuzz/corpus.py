"""The nastiest requests found while fuzzing, kept as fixed regression cases.

Each case is one raw HTTP request and the answer AWS's front end would give: the status and the
`__type`. A 200 is expected only for read-only operations that accept what was sent.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field

LIMIT = 8 * 1024 * 1024
"""The server's default request-body limit (`Settings.max_body_bytes`)."""
SERIALIZATION = "SerializationException"
VALIDATION = "ValidationException"
UNKNOWN = "UnknownOperationException"
TOO_LARGE = "RequestEntityTooLargeException"
NAME = '{"TrainingJobName": "%s"}'


@dataclass(frozen=True)
class Case:
    id: str
    target: str | None
    body: bytes
    status: int
    error: str | None
    """The expected `__type`; None for a 2xx."""
    headers: dict[str, str] = field(default_factory=dict)
    pending: str | None = None
    """A known bug: the case runs as a strict xfail until the named fix lands."""


def nested(depth: int, opener: str = "[", closer: str = "]") -> bytes:
    return (opener * depth + closer * depth).encode()


def sm(operation: str) -> str:
    return f"SageMaker.{operation}"


CASES = [
    # --- not JSON, or not an object ---
    Case("deep-array-100k", sm("ListTrainingJobs"), nested(100_000), 400, SERIALIZATION),
    Case(
        "deep-object-100k",
        sm("CreateTrainingJob"),
        b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
        400,
        SERIALIZATION,
    ),
    Case(
        "deep-inside-hyperparameters",
        sm("CreateTrainingJob"),
        b'{"HyperParameters": {"x": ' + nested(50_000) + b"}}",
        400,
        SERIALIZATION,
    ),
    Case("deep-array-990", sm("ListTags"), nested(990), 400, SERIALIZATION),
    Case(
        "invalid-utf8", sm("ListTrainingJobs"), b'{"NameContains": "\xff\xfe"}', 400, SERIALIZATION
    ),
    Case("utf8-bom-accepted", sm("ListTrainingJobs"), b"\xef\xbb\xbf{}", 200, None),
    Case("top-level-list", sm("ListTrainingJobs"), b"[1, 2]", 400, SERIALIZATION),
    Case("top-level-string", sm("DescribeTrainingJob"), b'"x"', 400, SERIALIZATION),
    Case("top-level-null", sm("DescribeTrainingJob"), b"null", 400, SERIALIZATION),
    Case("truncated", sm("CreateTrainingJob"), b'{"TrainingJobName": "a', 400, SERIALIZATION),
    Case("nul-byte-body", sm("ListTrainingJobs"), b"\x00" * 64, 400, SERIALIZATION),
    Case(
        "gzip-body-not-decoded",
        sm("ListTrainingJobs"),
        gzip.compress(b"{}"),
        400,
        SERIALIZATION,
        {"Content-Encoding": "gzip"},
    ),
    # --- numbers JSON allows but a model does not ---
    Case("nan", sm("ListTrainingJobs"), b'{"MaxResults": NaN}', 400, SERIALIZATION),
    Case("infinity", sm("ListTrainingJobs"), b'{"MaxResults": -Infinity}', 400, SERIALIZATION),
    Case("overflow-float", sm("ListTrainingJobs"), b'{"MaxResults": 1e400}', 400, SERIALIZATION),
    Case(
        "5000-digit-integer",
        sm("ListTrainingJobs"),
        b'{"MaxResults": ' + b"9" * 5000 + b"}",
        400,
        SERIALIZATION,
    ),
    Case("bool-for-integer", sm("ListTrainingJobs"), b'{"MaxResults": true}', 400, SERIALIZATION),
    Case("string-for-integer", sm("ListTrainingJobs"), b'{"MaxResults": "5"}', 400, SERIALIZATION),
    Case(
        "huge-timestamp",
        sm("ListTrainingJobs"),
        b'{"CreationTimeAfter": 1e300, "CreationTimeBefore": -1e300}',
        200,
        None,
    ),
    Case(
        "nan-timestamp",
        sm("ListHyperParameterTuningJobs"),
        b'{"CreationTimeAfter": NaN}',
        400,
        SERIALIZATION,
    ),
    Case(
        "nan-target-objective-value",
        sm("CreateHyperParameterTuningJob"),
        b'{"HyperParameterTuningJobName": "nan-tune", "HyperParameterTuningJobConfig": '
        b'{"Strategy": "Random", "ResourceLimits": {"MaxNumberOfTrainingJobs": 1, '
        b'"MaxParallelTrainingJobs": 1}, "HyperParameterTuningJobObjective": {"Type": '
        b'"Maximize", "MetricName": "m"}, "TuningJobCompletionCriteria": '
        b'{"TargetObjectiveMetricValue": NaN}}}',
        400,
        SERIALIZATION,
    ),
    # --- wrong shapes ---
    Case(
        "object-for-string",
        sm("DescribeTrainingJob"),
        NAME.replace('"%s"', "{}").encode(),
        400,
        SERIALIZATION,
    ),
    Case(
        "list-for-map",
        sm("CreateTrainingJob"),
        b'{"TrainingJobName": "a", "HyperParameters": ["x"]}',
        400,
        SERIALIZATION,
    ),
    Case(
        "duplicate-keys-last-wins",
        sm("ListTrainingJobs"),
        b'{"MaxResults": 1, "MaxResults": "x"}',
        400,
        SERIALIZATION,
    ),
    # --- strange strings ---
    Case("lone-surrogate", sm("DescribeTrainingJob"), (NAME % "\\ud800").encode(), 400, VALIDATION),
    Case("nul-in-name", sm("DescribeTrainingJob"), (NAME % "a\\u0000b").encode(), 400, VALIDATION),
    Case(
        "control-chars",
        sm("DescribeHyperParameterTuningJob"),
        b'{"HyperParameterTuningJobName": "\\u001b[31m\\r\\n"}',
        400,
        VALIDATION,
    ),
    Case(
        "rtl-and-emoji",
        sm("DescribeTrainingJob"),
        (NAME % "\u202e\U0001f600").encode(),
        400,
        VALIDATION,
    ),
    Case(
        "megabyte-name", sm("StopTrainingJob"), (NAME % ("a" * 1_000_000)).encode(), 400, VALIDATION
    ),
    Case(
        "malformed-next-token",
        sm("ListTrainingJobsForHyperParameterTuningJob"),
        b'{"HyperParameterTuningJobName": "seed-tune", "NextToken": "\\u0000%%%"}',
        400,
        VALIDATION,
    ),
    # --- huge collections ---
    Case(
        "100k-tags",
        sm("AddTags"),
        b'{"ResourceArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/seed-train", '
        b'"Tags": [' + b",".join([b'{"Key": "k", "Value": "v"}'] * 100_000) + b"]}",
        400,
        VALIDATION,
    ),
    Case(
        "100k-unknown-fields",
        sm("ListTags"),
        b"{" + b",".join(b'"f%d": %d' % (i, i) for i in range(100_000)) + b"}",
        400,
        VALIDATION,
    ),
    # --- targets and headers ---
    Case("no-target", None, b"{}", 400, UNKNOWN),
    Case("empty-target", "", b"{}", 400, UNKNOWN),
    Case("unknown-operation", sm("DescribeEverything"), b"{}", 400, UNKNOWN),
    Case("lowercase-operation", sm("listTrainingJobs"), b"{}", 400, UNKNOWN),
    Case("prefix-only", "SageMaker.", b"{}", 400, UNKNOWN),
    Case("operation-with-suffix", sm("ListTags.Extra"), b"{}", 400, UNKNOWN),
    Case("other-service-prefix", "DynamoDB_20120810.ListTables", b"{}", 400, UNKNOWN),
    Case("no-content-type", sm("ListTrainingJobs"), b"{}", 200, None, {"Content-Type": ""}),
    # --- size ---
    Case(
        "one-byte-over-the-limit",
        sm("CreateTrainingJob"),
        b'{"TrainingJobName": "' + b"a" * (LIMIT - 22) + b'"}',
        413,
        TOO_LARGE,
    ),
    Case(
        "at-the-limit",
        sm("DescribeTrainingJob"),
        b'{"TrainingJobName": "' + b"a" * (LIMIT - 23) + b'"}',
        400,
        VALIDATION,
    ),
]
