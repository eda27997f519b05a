"""Request validation against botocore's own SageMaker service model, as the service does it.

botocore's client checks only `required`, `min` and types; AWS's front end enforces every
constraint of the model: required, type, min/max (string length, list length, map size,
numeric range), pattern and enum. So does this module, reading the constraints from the
installed botocore model instead of a hand-copied schema.

Each shape becomes one *check* closure, built once (lazily per operation) and cached by shape
name, so a request costs one dict lookup plus the closures' own work: no model walking per call.

Wording and paths follow AWS (Coral) answers:

    2 validation errors detected: Value 'x' at 'hyperParameterTuningJobName' failed to satisfy
    constraint: Member must satisfy regular expression pattern: ...; Value null at
    'hyperParameterTuningJobConfig.resourceLimits.maxParallelTrainingJobs' failed to satisfy
    constraint: Member must not be null

- paths are the member names in camelCase joined by dots; list items are `<list>.<i>.member`
  (1-based), so a tag key is `tags.1.member.key`;
- a map whose keys (or scalar values) break their shape's constraints is reported once, at the
  map's path, as `Map keys must satisfy constraint: [<every constraint of the key shape>]` (or
  `Map value must ...`); non-scalar map values are checked at `<map>.<key>`;
- a missing required member reads `Value null at '<path>' ... Member must not be null`;
- the count is the true number of violations, the listed ones are capped at 10.

Unknown members are dropped from the request, in place (forward compatibility: the service
ignores them, so no handler stores or echoes them). A value of the wrong JSON type is not a
constraint violation but a body the service cannot deserialize: `SerializationException`
naming the member. The model's patterns are Java regexes; `translate_java_pattern` turns the
constructs Python's `re` lacks into equivalents, and every pattern is matched in full, as
Java's `Matcher.matches()` does.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import botocore.session
from botocore.model import ListShape, MapShape, ServiceModel, Shape, StructureShape

from emulator.errors import SerializationException, UnknownOperationException, ValidationException
from emulator.rules.unicode_categories import category_ranges

MAX_LISTED_VIOLATIONS = 10

Violation = tuple[Any, str, str]
"""(offending value, path, constraint text); the value is None for a missing member."""
Check = Callable[[Any, str, list[Violation]], None]
"""Validates one value found at a path, appending violations (raises on wrong JSON types)."""
Rule = tuple[Callable[[Any], bool], str]
"""A scalar constraint: a predicate that is True when satisfied, and AWS's text for it."""

_INT_BOUNDS = {"integer": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}


# --- public API -------------------------------------------------------------------------------


def validate_input(operation: str, params: dict[str, Any]) -> None:
    """Raise ValidationException (or SerializationException) unless `params` fits the model;
    drop the members the model does not know from `params` (and its nested structures)."""
    violations: list[Violation] = []
    _operation_check(operation)(params, "", violations)
    if violations:
        raise ValidationException(format_violations(violations))


@functools.cache
def operation_names() -> frozenset[str]:
    """Every operation of the SageMaker model, e.g. `CreateHyperParameterTuningJob`."""
    return frozenset(_model().operation_names)


def prepare(operations: Iterable[str]) -> None:
    """Build the checks of `operations` now, so the first request of each pays nothing."""
    for operation in operations:
        _operation_check(operation)


def format_violations(violations: list[Violation]) -> str:
    """AWS's message for a list of violations (at least one)."""
    n = len(violations)
    head = f"{n} validation error{'s' if n > 1 else ''} detected: "
    return head + "; ".join(_describe(v) for v in violations[:MAX_LISTED_VIOLATIONS])


def render_value(value: Any) -> str:
    """A value as Java's toString shows it in AWS messages (`[a, b]`, `{k=v}`, `true`)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return "[" + ", ".join(render_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={render_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def _describe(violation: Violation) -> str:
    value, path, constraint = violation
    shown = "null" if value is None else f"'{render_value(value)}'"
    return f"Value {shown} at '{path}' failed to satisfy constraint: {constraint}"


# --- the model --------------------------------------------------------------------------------


@functools.cache
def _model() -> ServiceModel:
    return botocore.session.get_session().get_service_model("sagemaker")


@functools.cache
def _operation_check(operation: str) -> Check:
    if operation not in operation_names():
        raise UnknownOperationException(f"Unknown SageMaker operation '{operation}'.")
    shape = _model().operation_model(operation).input_shape
    return _BUILDER.build(shape) if shape is not None else _BUILDER.empty_input


# --- type errors ------------------------------------------------------------------------------

_JSON_KINDS = {
    str: "a string",
    bool: "a boolean",
    int: "a number",
    float: "a number",
    list: "a list",
    dict: "an object",
}
_EXPECTED = {
    "string": "a string",
    "boolean": "a boolean",
    "integer": "an integer",
    "long": "an integer",
    "float": "a number",
    "double": "a number",
    "timestamp": "a timestamp in epoch seconds",
    "structure": "an object",
    "map": "an object",
    "list": "a list",
}


def _type_error(value: Any, path: str, type_name: str) -> SerializationException:
    kind = _JSON_KINDS.get(type(value), type(value).__name__)
    where = f"'{path}'" if path else "the top level of the request body"
    return SerializationException(
        f"Expected {_EXPECTED.get(type_name, type_name)} at {where} but found {kind} "
        f"('{render_value(value)}')."
    )


# --- scalar rules -----------------------------------------------------------------------------


def _java_length(value: str) -> int:
    """String length as Java counts it (UTF-16 code units), which is what `max` limits."""
    if value.isascii():
        return len(value)
    return len(value) + sum(1 for c in value if ord(c) > 0xFFFF)


def _length(value: Any) -> int:
    return _java_length(value) if isinstance(value, str) else len(value)


def _size_rules(shape: Shape) -> list[Rule]:
    """min/max as AWS words them: length for strings, lists and maps, value for numbers."""
    meta = shape.metadata
    rules: list[Rule] = []
    numeric = shape.type_name in ("integer", "long", "float", "double")
    measure: Callable[[Any], Any] = (lambda v: v) if numeric else _length
    noun = "value" if numeric else "length"
    if "min" in meta:
        lo = meta["min"]
        rules.append(
            (lambda v: measure(v) >= lo, f"Member must have {noun} greater than or equal to {lo}")
        )
    if "max" in meta:
        hi = meta["max"]
        rules.append(
            (lambda v: measure(v) <= hi, f"Member must have {noun} less than or equal to {hi}")
        )
    return rules


def _string_rules(shape: Shape) -> list[Rule]:
    rules = _size_rules(shape)
    pattern = shape.metadata.get("pattern")
    if pattern is not None:
        regex = compile_java_pattern(pattern)
        rules.append(
            (
                lambda v: regex.fullmatch(v) is not None,
                f"Member must satisfy regular expression pattern: {pattern}",
            )
        )
    enum = shape.enum
    if enum:
        allowed = frozenset(enum)
        rules.append(
            (lambda v: v in allowed, f"Member must satisfy enum value set: [{', '.join(enum)}]")
        )
    return rules


def _accepts(type_name: str) -> Callable[[Any], bool]:
    """The JSON types a scalar shape deserializes from (bool is never a number)."""
    if type_name == "string":
        return lambda v: type(v) is str
    if type_name == "boolean":
        return lambda v: type(v) is bool
    if type_name in _INT_BOUNDS:
        lo, hi = _INT_BOUNDS[type_name]
        return lambda v: (type(v) is int or (type(v) is float and v.is_integer())) and lo <= v <= hi
    return lambda v: type(v) is int or type(v) is float  # float, double, timestamp


def _scalar_rules(shape: Shape) -> list[Rule]:
    return _string_rules(shape) if shape.type_name == "string" else _size_rules(shape)


# --- building checks --------------------------------------------------------------------------


class _CheckBuilder:
    """Turns botocore shapes into check closures, one per shape name, shared by operations."""

    def __init__(self) -> None:
        self._checks: dict[str, Check] = {}
        self._building: set[str] = set()

    def empty_input(self, value: Any, path: str, violations: list[Violation]) -> None:
        if not isinstance(value, Mapping):
            raise _type_error(value, path, "structure")

    def build(self, shape: Shape) -> Check:
        name = shape.name
        if name in self._checks:
            return self._checks[name]
        if name in self._building:  # a recursive shape: resolve when called
            return self._deferred(name)
        self._building.add(name)
        try:
            check = self._make(shape)
        finally:
            self._building.discard(name)
        self._checks[name] = check
        return check

    def _deferred(self, name: str) -> Check:
        def check(value: Any, path: str, violations: list[Violation]) -> None:
            self._checks[name](value, path, violations)

        return check

    def _make(self, shape: Shape) -> Check:
        if isinstance(shape, StructureShape):
            return self._structure(shape)
        if isinstance(shape, ListShape):
            return self._list(shape)
        if isinstance(shape, MapShape):
            return self._map(shape)
        return _scalar(shape)

    def _structure(self, shape: StructureShape) -> Check:
        required = set(shape.required_members)
        fields = tuple(
            (name, name[:1].lower() + name[1:], self.build(member), name in required)
            for name, member in shape.members.items()
        )
        union = bool(shape.metadata.get("union"))
        known = frozenset(shape.members)

        def check(value: Any, path: str, violations: list[Violation]) -> None:
            if type(value) is not dict:
                raise _type_error(value, path, "structure")
            for unknown in [k for k in value if k not in known]:
                del value[unknown]
            prefix = f"{path}." if path else ""
            for key, camel, member_check, is_required in fields:
                member = value.get(key)
                if member is not None:
                    member_check(member, prefix + camel, violations)
                elif is_required:
                    violations.append((None, prefix + camel, "Member must not be null"))
            if union and sum(value.get(key) is not None for key, *_ in fields) != 1:
                violations.append((value, path, "Member must have exactly one member set"))

        return check

    def _list(self, shape: ListShape) -> Check:
        rules = _size_rules(shape)
        item_check = self.build(shape.member)

        def check(value: Any, path: str, violations: list[Violation]) -> None:
            if type(value) is not list:
                raise _type_error(value, path, "list")
            for ok, text in rules:
                if not ok(value):
                    violations.append((value, path, text))
            for i, item in enumerate(value, 1):
                if item is None:
                    violations.append((None, f"{path}.{i}.member", "Member must not be null"))
                else:
                    item_check(item, f"{path}.{i}.member", violations)

        return check

    def _map(self, shape: MapShape) -> Check:
        rules = _size_rules(shape)
        key_rules = _scalar_rules(shape.key)
        key_text = f"Map keys must satisfy constraint: [{_listing(key_rules)}]"
        value_shape = shape.value
        scalar_values = not isinstance(value_shape, (StructureShape, ListShape, MapShape))
        value_check = self.build(value_shape)
        value_rules = _scalar_rules(value_shape) if scalar_values else []
        value_text = f"Map value must satisfy constraint: [{_listing(value_rules)}]"

        def check(value: Any, path: str, violations: list[Violation]) -> None:
            if type(value) is not dict:
                raise _type_error(value, path, "map")
            for ok, text in rules:
                if not ok(value):
                    violations.append((value, path, text))
            if key_rules and not all(ok(k) for k in value for ok, _ in key_rules):
                violations.append((value, path, key_text))
            if scalar_values:
                inner: list[Violation] = []
                for key, item in value.items():
                    value_check(item, f"{path}.{key}", inner)
                if inner:
                    violations.append((value, path, value_text))
            else:
                for key, item in value.items():
                    value_check(item, f"{path}.{key}", violations)

        return check


def _listing(rules: list[Rule]) -> str:
    """AWS lists a map's key/value constraints largest-bound first: max, min, then the rest."""
    texts = [text for _, text in rules]
    sizes = sorted((t for t in texts if "must have" in t), key=lambda t: "less" not in t)
    return ", ".join(sizes + [t for t in texts if "must have" not in t])


def _scalar(shape: Shape) -> Check:
    rules = _scalar_rules(shape)
    accepts = _accepts(shape.type_name)
    type_name = shape.type_name

    def check(value: Any, path: str, violations: list[Violation]) -> None:
        if not accepts(value):
            raise _type_error(value, path, type_name)
        for ok, text in rules:
            if not ok(value):
                violations.append((value, path, text))

    return check


_BUILDER = _CheckBuilder()


# --- Java regexes -----------------------------------------------------------------------------

_POSIX_CLASSES = {
    "Alnum": "a-zA-Z0-9",
    "Alpha": "a-zA-Z",
    "Digit": "0-9",
    "Upper": "A-Z",
    "Lower": "a-z",
    "Space": r" \t\n\x0b\f\r",
    "XDigit": "0-9a-fA-F",
    "ASCII": r"\x00-\x7f",
}
_JAVA_DOT = r"[^\n\r\u0085\u2028\u2029]"
_QUANTIFIED_END = re.compile(r"\$\{\d+(,\d*)?\}")


@functools.cache
def compile_java_pattern(pattern: str) -> re.Pattern[str]:
    """The model's Java regex compiled for Python (use with `fullmatch`)."""
    return re.compile(translate_java_pattern(pattern))


def translate_java_pattern(pattern: str) -> str:
    """Rewrite what Python's `re` lacks or reads differently: `\\p{..}` classes, UTF-16
    surrogate-pair escapes (`\\uD800\\uDC00` is one supplementary code point in Java), a
    quantified `$`, and `.` (which in Java matches no line terminator at all)."""
    out: list[str] = []
    i, in_class = 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            piece, i = _escape(pattern, i, in_class)
            out.append(piece)
            continue
        if c == "[" and not in_class:
            in_class = True
        elif c == "]" and in_class and not _opens_class(pattern, i):
            in_class = False
        elif c == "." and not in_class:  # Java's `.` stops at every line terminator
            out.append(_JAVA_DOT)
            i += 1
            continue
        elif c == "$" and not in_class:
            end = _QUANTIFIED_END.match(pattern, i)
            if end:  # Java accepts `${1,128}`; repeating an anchor changes nothing
                out.append("$")
                i = end.end()
                continue
        out.append(c)
        i += 1
    return "".join(out)


def _opens_class(pattern: str, i: int) -> bool:
    """True when the `]` at `i` is the literal first member of its class (`[]...]`, `[^]...]`)."""
    return pattern[i - 1] == "[" or (pattern[i - 2 : i] == "[^" and pattern[i - 3 : i - 2] != "\\")


def _escape(pattern: str, i: int, in_class: bool) -> tuple[str, int]:
    """Translate the escape starting at `pattern[i]` (a backslash); returns (text, next index)."""
    kind = pattern[i + 1]
    if kind == "p" and pattern[i + 2 : i + 3] == "{":
        end = pattern.index("}", i)
        members = _property_class(pattern[i + 3 : end])
        return (members if in_class else f"[{members}]"), end + 1
    if kind == "u":
        high = int(pattern[i + 2 : i + 6], 16)
        if 0xD800 <= high <= 0xDBFF and pattern[i + 6 : i + 8] == "\\u":
            low = int(pattern[i + 8 : i + 12], 16)
            if 0xDC00 <= low <= 0xDFFF:
                code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                return f"\\U{code:08x}", i + 12
        return pattern[i : i + 6], i + 6
    return pattern[i : i + 2], i + 2


def _property_class(name: str) -> str:
    """Members of a character class for `\\p{name}`: a POSIX name or a Unicode category."""
    if name in _POSIX_CLASSES:
        return _POSIX_CLASSES[name]
    category = name.removeprefix("Is")
    if 1 <= len(category) <= 2 and category[0] in "LMNPSZC":
        return _category_ranges(category)
    raise ValueError(f"unsupported Java character property \\p{{{name}}}")


@functools.cache
def _category_ranges(category: str) -> str:
    """Escaped code-point ranges whose Unicode general category starts with `category`."""
    ranges = category_ranges(category)
    return "".join(f"\\U{a:08x}" if a == b else f"\\U{a:08x}-\\U{b:08x}" for a, b in ranges)
