"""Hostile input over raw HTTP, to every SageMaker operation we serve and to targets we do not.

Property: every answer is either a 2xx (a read-only operation that accepted what was sent) or an
AWS-shaped 4xx JSON `{"__type", "message"}` (413 for an oversized body), within TIME_BOUND
seconds; never a 500, a hang or a crash; and the store is byte-for-byte what it was before the
request. The module runs its own seeded, idle emulator, so nothing else changes the store.

Run length: AMT_FUZZ_EXAMPLES examples per strategy (default 200; e.g. 5000 for a long run).
`AMT_FUZZ_REPORT=FILE` writes the number of requests sent and the statuses seen, as JSON.
"""

from __future__ import annotations

import collections
import http.client
import json
import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.api.dispatch import OPERATIONS
from tests.api.test_invalid_requests import (
    SEED_TRAINING,
    SEED_TUNING,
    seeded_idle_server,
)
from tests.conftest import Server, start_server
from tests.fuzz.corpus import CASES, LIMIT, Case
from tests.requests import training_request, tuning_request

EXAMPLES = int(os.environ.get("AMT_FUZZ_EXAMPLES", "200"))
TIME_BOUND = 5.0
JSON_11 = "application/x-amz-json-1.1"
ARN = "arn:aws:sagemaker:us-east-1:123456789012"
READ_ONLY = frozenset(op for op in OPERATIONS if op.startswith(("Describe", "List")))
STATS: collections.Counter[int] = collections.Counter()

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
        HealthCheck.function_scoped_fixture,
    ],
)
BIG = settings(FUZZ, max_examples=max(10, EXAMPLES // 5))


# --- sending ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: str
    seconds: float


def post(
    server: Server, target: str | None, body: bytes, headers: dict[str, str] | None = None
) -> Answer:
    """One raw POST on a fresh connection, with TIME_BOUND as the socket timeout."""
    sent = {"Content-Type": JSON_11, **(headers or {})}
    if target is not None:
        sent["X-Amz-Target"] = target
    sent = {k: v for k, v in sent.items() if v != ""}
    conn = http.client.HTTPConnection("127.0.0.1", server.process.port, timeout=TIME_BOUND)
    started = time.monotonic()
    try:
        conn.request("POST", "/", body=body, headers=sent)
        response = conn.getresponse()
        data = response.read()
    finally:
        conn.close()
    STATS[response.status] += 1
    return Answer(
        response.status, data, response.getheader("Content-Type", ""), time.monotonic() - started
    )


def assert_aws_answer(answer: Answer, target: str | None) -> None:
    """A 2xx only for a read-only operation; otherwise an AWS JSON error, 4xx, in time."""
    assert answer.seconds < TIME_BOUND, answer
    operation = (target or "").removeprefix("SageMaker.")
    if 200 <= answer.status < 300:
        assert operation in READ_ONLY, answer
        json.loads(answer.body)
        return
    assert 400 <= answer.status < 500, answer
    assert answer.content_type == JSON_11, answer
    error = json.loads(answer.body)
    assert isinstance(error.get("__type"), str) and error["__type"], error
    assert isinstance(error.get("message"), str), error


def probe(
    server: Server, target: str | None, body: bytes, headers: dict[str, str] | None = None
) -> Answer:
    """Send, check the answer's shape, and check the store did not change."""
    before = server.snapshot()
    answer = post(server, target, body, headers)
    assert_aws_answer(answer, target)
    assert server.snapshot() == before, (target, body[:200], answer)
    return answer


# --- the emulator under test ------------------------------------------------------------------


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with seeded_idle_server(tmp_path_factory.mktemp("fuzz")) as server:
        yield server


@pytest.fixture(scope="module")
def scratch_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """For probes of known bugs: a request wrongly accepted changes this store, not the one
    the other properties compare snapshots of."""
    server = start_server(tmp_path_factory.mktemp("fuzz-scratch"), extra_args=["--agents", "0"])
    yield server
    server.process.stop()


# --- strategies -------------------------------------------------------------------------------


def base_requests() -> dict[str, dict[str, Any]]:
    """One valid request per operation, naming the seeded jobs where it names one."""
    training_arn = f"{ARN}:training-job/{SEED_TRAINING}"
    tuning = {"HyperParameterTuningJobName": SEED_TUNING}
    training = {"TrainingJobName": SEED_TRAINING}
    bases: dict[str, dict[str, Any]] = {
        "CreateHyperParameterTuningJob": tuning_request(
            "fuzz-tune",
            HyperParameterTuningJobConfig={
                "TuningJobCompletionCriteria": {"TargetObjectiveMetricValue": 0.9}
            },
        ),
        "DescribeHyperParameterTuningJob": tuning,
        "ListHyperParameterTuningJobs": {"MaxResults": 10, "SortBy": "Name", "NameContains": "s"},
        "ListTrainingJobsForHyperParameterTuningJob": {**tuning, "MaxResults": 10},
        "StopHyperParameterTuningJob": tuning,
        "DeleteHyperParameterTuningJob": tuning,
        "CreateTrainingJob": training_request("fuzz-train"),
        "DescribeTrainingJob": training,
        "ListTrainingJobs": {"MaxResults": 10, "StatusEquals": "Stopped", "SortOrder": "Ascending"},
        "StopTrainingJob": training,
        "UpdateTrainingJob": {**training, "ProfilerConfig": {"DisableProfiler": True}},
        "DeleteTrainingJob": training,
        "AddTags": {"ResourceArn": training_arn, "Tags": [{"Key": "k", "Value": "v"}]},
        "ListTags": {"ResourceArn": training_arn, "MaxResults": 50},
        "DeleteTags": {"ResourceArn": training_arn, "TagKeys": ["k"]},
    }
    assert set(bases) == set(OPERATIONS), "a new operation needs a base request here"
    return bases


BASES = base_requests()
Path_ = tuple[str | int, ...]


def paths(value: Any, prefix: Path_ = ()) -> list[Path_]:
    """Every member path below `value` (dict keys and list indices), depth first."""
    if isinstance(value, dict):
        items: list[tuple[str | int, Any]] = list(value.items())
    elif isinstance(value, list):
        items = list(enumerate(value))
    else:
        return []
    found: list[Path_] = []
    for key, child in items:
        found.append((*prefix, key))
        found.extend(paths(child, (*prefix, key)))
    return found


def replaced(value: Any, path: Path_, new: Any) -> Any:
    if not path:
        return new
    copy: Any = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = replaced(value[path[0]], path[1:], new)
    return copy


def at(value: Any, path: Path_) -> Any:
    for key in path:
        value = value[key]
    return value


odd_characters = st.sampled_from(["\ud800", "\udfff", "\x00", "\x1b", "\u202e", "\ufeff"])
nasty_text = st.text(st.characters() | odd_characters, max_size=40) | st.sampled_from(
    ["", " ", "\x00", "\u202e", "\ud7ff", "\U0001d518\U0001d52b", "../../etc/passwd", "%s%n"]
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | nasty_text
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(nasty_text, inner, max_size=5),
    max_leaves=25,
)


def wrong_type(original: Any) -> st.SearchStrategy[Any]:
    """A value of a JSON type the member cannot have (never null: that may mean 'absent')."""
    text, number = st.text(max_size=20), st.integers() | st.floats(allow_nan=False)
    lists, objects = st.lists(scalars, max_size=3), st.dictionaries(st.text(max_size=5), scalars)
    if isinstance(original, bool):
        return text | number | lists | objects
    if isinstance(original, int | float):
        return text | st.booleans() | lists | objects
    if isinstance(original, str):
        return number | st.booleans() | lists | objects
    if isinstance(original, list):
        return text | number | st.booleans() | objects
    return text | number | st.booleans() | lists


targets = st.sampled_from(sorted(OPERATIONS)).map(lambda op: f"SageMaker.{op}")
odd_targets = st.sampled_from(
    ["", "SageMaker", "SageMaker.", "sagemaker.ListTags", "SageMaker.ListTags ", "SageMaker.*"]
) | st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=60)


@st.composite
def broken_member(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A valid request of some operation with one member of the wrong JSON type, and perhaps
    unknown fields: the service must refuse it whatever else it holds."""
    operation = draw(st.sampled_from(sorted(BASES)))
    params: Any = BASES[operation]
    path = draw(st.sampled_from(paths(params)))
    params = replaced(params, path, draw(wrong_type(at(params, path))))
    for _ in range(draw(st.integers(0, 2))):
        holders = [p for p in [(), *paths(params)] if isinstance(at(params, p), dict)]
        holder = draw(st.sampled_from(holders))
        extra = {**at(params, holder), draw(nasty_text): draw(json_values)}
        params = replaced(params, holder, extra)
    return f"SageMaker.{operation}", params


@st.composite
def huge_member(draw: st.DrawFn) -> tuple[str, bytes]:
    """A valid request with one member blown up: a string of up to 2 MB, a list of up to
    100k items, or an object of up to 20k keys."""
    operation = draw(st.sampled_from(sorted(op for op in BASES if BASES[op])))
    params: Any = BASES[operation]
    path = draw(st.sampled_from(paths(params)))
    size = draw(st.sampled_from([3_000, 70_000, 300_000, 2_000_000]))
    # An object of unknown keys in place of an optional structure is a valid request (unknown
    # members are ignored), so a structure is blown up only into a string or a list.
    kinds = (
        ["string", "list"] if isinstance(at(params, path), dict) else ["string", "list", "object"]
    )
    kind = draw(st.sampled_from(kinds))
    char = draw(st.sampled_from(["a", "\u00e9", "\U0001f600", "\x01"]))
    if kind == "string":
        huge: Any = char * size
    elif kind == "list":
        huge = [at(params, path)] * min(size, 100_000)
    else:
        huge = {f"k{i}": i for i in range(min(size, 20_000))}
    if huge == at(params, path):
        huge = 7
    return f"SageMaker.{operation}", json.dumps(replaced(params, path, huge)).encode()


@st.composite
def deep_nesting(draw: st.DrawFn) -> tuple[str, bytes]:
    depth = draw(st.sampled_from([200, 999, 1_000, 5_000, 100_000]))
    opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
    middle = "1" if opener != "[" else ""
    nest = opener * depth + middle + closer * depth
    operation = draw(st.sampled_from(sorted(BASES)))
    where = draw(st.sampled_from(["top", "member", "unclosed"]))
    if where == "top":
        body = nest
    elif where == "member":
        body = '{"HyperParameters": {"x": ' + nest + "}}"
    else:
        body = opener * depth
    return f"SageMaker.{operation}", body.encode()


raw_bodies = (
    st.binary(max_size=300)
    | nasty_text.map(lambda t: t.encode("utf-8", "surrogatepass"))
    | json_values.map(lambda v: json.dumps(v).encode())
    | st.dictionaries(nasty_text, json_values, max_size=6).map(lambda v: json.dumps(v).encode())
)
header_sets = st.fixed_dictionaries(
    {},
    optional={
        "Content-Type": st.sampled_from(
            ["", "application/json", "text/plain", "application/x-www-form-urlencoded", "a/b;c"]
        ),
        "Content-Encoding": st.sampled_from(["gzip", "deflate", "br", "identity", "x"]),
        "X-Amz-Date": st.sampled_from(["", "garbage", "20200101T000000Z"]),
        "Authorization": st.sampled_from(
            ["", "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA256 Credential=a/b/c/sagemaker/aws4_request"]
        ),
    },
)


# --- the properties ---------------------------------------------------------------------------


@FUZZ
@given(target=targets | odd_targets, body=raw_bodies)
def test_random_bodies(fuzz_server: Server, target: str, body: bytes) -> None:
    probe(fuzz_server, target, body)


@FUZZ
@given(request=broken_member())
def test_one_member_of_the_wrong_type(fuzz_server: Server, request: tuple[str, Any]) -> None:
    target, params = request
    answer = probe(fuzz_server, target, json.dumps(params).encode())
    assert answer.status == 400, answer
    assert json.loads(answer.body)["__type"] in ("SerializationException", "ValidationException")


NUMERIC = {
    op: found
    for op, params in BASES.items()
    if (found := [p for p in paths(params) if type(at(params, p)) in (int, float)])
}


@st.composite
def non_finite_number(draw: st.DrawFn) -> tuple[str, bytes]:
    """A valid request with NaN or an infinity (JSON extensions no AWS parser accepts) in a
    numeric member."""
    operation = draw(st.sampled_from(sorted(NUMERIC)))
    params: Any = BASES[operation]
    path = draw(st.sampled_from(NUMERIC[operation]))
    value = draw(st.sampled_from([math.nan, math.inf, -math.inf]))
    return f"SageMaker.{operation}", json.dumps(replaced(params, path, value)).encode()


@FUZZ
@given(request=non_finite_number())
def test_non_finite_numbers(scratch_server: Server, request: tuple[str, bytes]) -> None:
    target, body = request
    answer = probe(scratch_server, target, body)
    assert answer.status == 400, answer


@BIG
@given(request=huge_member())
def test_huge_members(fuzz_server: Server, request: tuple[str, bytes]) -> None:
    target, body = request
    answer = probe(fuzz_server, target, body)
    assert answer.status in (400, 413), answer


@BIG
@given(request=deep_nesting())
def test_deep_nesting(fuzz_server: Server, request: tuple[str, bytes]) -> None:
    target, body = request
    # Unknown members are ignored (forward compatibility): a read-only call may succeed.
    assert_aws_answer(probe(fuzz_server, target, body), target)


@FUZZ
@given(
    target=st.none() | targets | odd_targets,
    body=raw_bodies | st.just(b"{}"),
    headers=header_sets,
)
def test_odd_headers(
    fuzz_server: Server, target: str | None, body: bytes, headers: dict[str, str]
) -> None:
    probe(fuzz_server, target, body, headers)


@pytest.mark.parametrize("size", [LIMIT + 1, LIMIT + 4096, 9 * 1024 * 1024])
@pytest.mark.parametrize("operation", ["CreateTrainingJob", "ListTags", "NoSuchOperation"])
def test_bodies_over_the_limit_are_413(fuzz_server: Server, operation: str, size: int) -> None:
    body = b'{"TrainingJobName": "' + b"x" * (size - 23) + b'"}'
    answer = probe(fuzz_server, f"SageMaker.{operation}", body)
    assert answer.status == 413
    assert json.loads(answer.body)["__type"] == "RequestEntityTooLargeException"


def _marked(case: Case) -> Any:
    marks = [pytest.mark.xfail(strict=True, reason=case.pending)] if case.pending else []
    return pytest.param(case, id=case.id, marks=marks)


@pytest.mark.parametrize("case", [_marked(c) for c in CASES])
def test_corpus(request: pytest.FixtureRequest, case: Case) -> None:
    server = request.getfixturevalue("scratch_server" if case.pending else "fuzz_server")
    answer = probe(server, case.target, case.body, case.headers)
    assert answer.status == case.status, answer
    if case.error is not None:
        assert json.loads(answer.body)["__type"] == case.error, answer


def test_the_server_survived_every_request(fuzz_server: Server) -> None:
    """Runs last in this module: still healthy, and no request produced a traceback."""
    conn = http.client.HTTPConnection("127.0.0.1", fuzz_server.process.port, timeout=TIME_BOUND)
    conn.request("GET", "/health")
    assert json.loads(conn.getresponse().read())["status"] == "ok"
    conn.close()
    assert fuzz_server.process.proc is not None and fuzz_server.process.proc.poll() is None
    output = "\n".join(fuzz_server.process.output)
    assert "Traceback" not in output, output[-4000:]
    report = os.environ.get("AMT_FUZZ_REPORT")
    if report:
        figures = {"requests": sum(STATS.values()), "statuses": dict(sorted(STATS.items()))}
        Path(report).write_text(json.dumps(figures, indent=2) + "\n")
