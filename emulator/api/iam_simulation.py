"""`iam:SimulatePrincipalPolicy`, which moto's IAM does not implement, answered as AWS answers
it for a principal allowed to act: the emulator enforces no IAM policy, so every action on
every resource asked about is `allowed`.

As on AWS, the principal (`PolicySourceArn`: a user, group or role) must exist in the request's
account (`NoSuchEntity` otherwise); each action is evaluated for each of `ResourceArns` (`*`
when none), one result per combination, paged by `MaxItems`/`Marker`. SageMaker Python SDK v3
validates its execution role this way before every training or tuning job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

NAMESPACE = "https://iam.amazonaws.com/doc/2010-05-08/"
DEFAULT_MAX_ITEMS = 100


class SimulationError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def form_of(query_string: str, body: bytes) -> dict[str, list[str]]:
    """The query-protocol parameters, from the URL and a form-encoded body."""
    params = parse_qs(query_string, keep_blank_values=True)
    for key, values in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items():
        params.setdefault(key, []).extend(values)
    return params


def members(params: Mapping[str, list[str]], name: str) -> list[str]:
    """`Name.member.1`, `Name.member.2`, ... in order."""
    numbered = []
    prefix = f"{name}.member."
    for key, values in params.items():
        if key.startswith(prefix) and key[len(prefix) :].isdigit():
            numbered.append((int(key[len(prefix) :]), values[0]))
    return [value for _, value in sorted(numbered)]


def simulate_principal_policy(
    params: Mapping[str, list[str]], principals: Sequence[str], request_id: str
) -> bytes:
    """The XML answer; `principals` are the ARNs of the account's users, groups and roles."""
    source = (params.get("PolicySourceArn") or [""])[0]
    actions = members(params, "ActionNames")
    if not source:
        raise SimulationError(400, "ValidationError", "PolicySourceArn is required.")
    if not actions:
        raise SimulationError(400, "ValidationError", "ActionNames must name at least one action.")
    if source not in principals:
        kind, _, name = source.rpartition(":")[2].partition("/")
        raise SimulationError(
            404,
            "NoSuchEntity",
            f"The {kind or 'entity'} with name {name.rsplit('/', 1)[-1]} cannot be found.",
        )
    resources = members(params, "ResourceArns") or ["*"]
    results = [(action, resource) for action in actions for resource in resources]
    start = _marker(params)
    limit = _max_items(params)
    page = results[start : start + limit]
    truncated = start + limit < len(results)
    body = "".join(_result(action, resource) for action, resource in page)
    marker = f"<Marker>{start + limit}</Marker>" if truncated else ""
    return (
        f'<SimulatePrincipalPolicyResponse xmlns="{NAMESPACE}"><SimulatePrincipalPolicyResult>'
        f"<EvaluationResults>{body}</EvaluationResults>"
        f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>{marker}"
        "</SimulatePrincipalPolicyResult>"
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
        "</SimulatePrincipalPolicyResponse>"
    ).encode()


def _result(action: str, resource: str) -> str:
    return (
        f"<member><EvalActionName>{escape(action)}</EvalActionName>"
        f"<EvalResourceName>{escape(resource)}</EvalResourceName>"
        "<EvalDecision>allowed</EvalDecision><MatchedStatements/><MissingContextValues/>"
        "</member>"
    )


def _marker(params: Mapping[str, list[str]]) -> int:
    marker = (params.get("Marker") or ["0"])[0]
    if not marker.isdigit():
        raise SimulationError(400, "ValidationError", "The Marker is not valid.")
    return int(marker)


def _max_items(params: Mapping[str, list[str]]) -> int:
    value = (params.get("MaxItems") or [str(DEFAULT_MAX_ITEMS)])[0]
    if not value.isdigit() or not 1 <= int(value) <= 1000:
        raise SimulationError(
            400, "ValidationError", "MaxItems must be an integer between 1 and 1000."
        )
    return int(value)


def principal_arns(backend: Any) -> list[str]:
    """Every user, group and role ARN of one moto IAM backend."""
    entities = [*backend.get_roles(), *backend.users.values(), *backend.groups.values()]
    return [str(entity.arn) for entity in entities]
