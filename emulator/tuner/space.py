"""The search space of a tuning job, and its encoding as the unit hypercube.

Every strategy works in one coordinate system: a point `x` in `[0, 1]^dim`. Numeric parameters
take one coordinate each, already *scaled* (a Logarithmic range is uniform in `log v`, a
ReverseLogarithmic one uniform in `-log(1 - v)`), so "uniform in x" is exactly the sampling the
API's ScalingType asks for, and a Bayesian model sees distances the way the user meant them.
Categorical parameters are one-hot (one coordinate per value); decoding takes the argmax, so
uniform noise on those coordinates picks each value with equal probability.

An integer range `[low, high]` is encoded over `[low - 0.5, high + 0.5]` (in the scaled
coordinate) and decoded by rounding, so every integer owns an equal slice of `[0, 1]` and
`decode(encode(config)) == config` holds exactly.

Values travel as the strings SageMaker puts in `TunedHyperParameters`: integers as `"12"`,
continuous values as a plain decimal (`"0.00001"`, never `"1e-05"`), categoricals as given.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from emulator.tuner.model import Config

LINEAR = "Linear"
LOGARITHMIC = "Logarithmic"
REVERSE_LOGARITHMIC = "ReverseLogarithmic"
AUTO = "Auto"
AUTO_LOG_RATIO = 100.0
"""Auto scaling picks Logarithmic when a positive range spans at least this factor."""


@dataclass(frozen=True)
class ContinuousParam:
    name: str
    low: float
    high: float
    scaling: str
    """"Linear" | "Logarithmic" | "ReverseLogarithmic"; "Auto" is resolved when parsing."""


@dataclass(frozen=True)
class IntegerParam:
    name: str
    low: int
    high: int
    scaling: str
    """"Linear" | "Logarithmic" (AWS does not allow ReverseLogarithmic for integers)."""


@dataclass(frozen=True)
class CategoricalParam:
    name: str
    values: tuple[str, ...]


Param = ContinuousParam | IntegerParam | CategoricalParam
NumericParam = ContinuousParam | IntegerParam


# --- scaling: value <-> scaled coordinate ------------------------------------------------------


def _forward(v: float, scaling: str) -> float:
    """Map a value to the axis on which the range is searched uniformly."""
    if scaling == LOGARITHMIC:
        return math.log(v)
    if scaling == REVERSE_LOGARITHMIC:
        return -math.log(1.0 - v)
    return v


def _inverse(t: float, scaling: str) -> float:
    if scaling == LOGARITHMIC:
        return math.exp(t)
    if scaling == REVERSE_LOGARITHMIC:
        return 1.0 - math.exp(-t)
    return t


def _bounds(p: NumericParam) -> tuple[float, float]:
    """The value interval a coordinate of 0 and 1 stand for (integers widened by half a step)."""
    if isinstance(p, IntegerParam):
        return p.low - 0.5, p.high + 0.5
    return p.low, p.high


def _to_unit(p: NumericParam, v: float) -> float:
    lo, hi = _bounds(p)
    a, b = _forward(lo, p.scaling), _forward(hi, p.scaling)
    if b == a:
        return 0.5
    return min(1.0, max(0.0, (_forward(min(hi, max(lo, v)), p.scaling) - a) / (b - a)))


def _from_unit(p: NumericParam, u: float) -> float:
    lo, hi = _bounds(p)
    a, b = _forward(lo, p.scaling), _forward(hi, p.scaling)
    return min(hi, max(lo, _inverse(a + u * (b - a), p.scaling)))


# --- value strings ----------------------------------------------------------------------------


def format_value(p: Param, v: float | str) -> str:
    """The string SageMaker would report for value `v` of parameter `p` (clipped into range)."""
    if isinstance(p, CategoricalParam):
        return str(v)
    x = min(p.high, max(p.low, float(v)))
    if isinstance(p, IntegerParam):
        return str(min(p.high, max(p.low, round(x))))
    return np.format_float_positional(x, trim="0")


def parse_number(text: str, integer: bool) -> float:
    """Parse a hyperparameter value; integers must be integral (`"3"` or `"3.0"`)."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text!r} is not a finite number")
    if integer and value != int(value):
        raise ValueError(f"{text!r} is not an integer")
    return value


def midpoint(p: Param) -> str:
    """The centre of a range in its scaled axis (a categorical's middle value)."""
    if isinstance(p, CategoricalParam):
        return p.values[(len(p.values) - 1) // 2]
    return format_value(p, _from_unit(p, 0.5))


def clip_value(p: Param, text: str) -> str | None:
    """`text` moved into `p`'s range: numbers are clipped, unknown categories give None."""
    if isinstance(p, CategoricalParam):
        return text if text in p.values else None
    try:
        return format_value(p, float(text))
    except ValueError:
        return None


def value_in_range(p: Param, text: str) -> bool:
    """True when `text` is a legal value of `p` exactly as given."""
    if isinstance(p, CategoricalParam):
        return text in p.values
    try:
        v = parse_number(text, isinstance(p, IntegerParam))
    except ValueError:
        return False
    return p.low <= v <= p.high


# --- parsing the API's ParameterRanges --------------------------------------------------------


def _resolve_scaling(requested: str | None, low: float, high: float, integer: bool) -> str:
    """Check a ScalingType against AWS's rules and resolve Auto."""
    scaling = requested or AUTO
    if scaling == AUTO:
        return LOGARITHMIC if low > 0 and high / low >= AUTO_LOG_RATIO else LINEAR
    if scaling == LOGARITHMIC and low <= 0:
        raise ValueError("Logarithmic scaling requires a range with all values greater than 0")
    if scaling == REVERSE_LOGARITHMIC:
        if integer:
            raise ValueError("ReverseLogarithmic scaling is not supported for integer ranges")
        if not (low >= 0 and high < 1):
            raise ValueError("ReverseLogarithmic scaling requires a range within 0 <= x < 1.0")
    if scaling not in (LINEAR, LOGARITHMIC, REVERSE_LOGARITHMIC):
        raise ValueError(f"unknown ScalingType {scaling!r}")
    return scaling


def _numeric_param(spec: Mapping[str, Any], integer: bool) -> NumericParam:
    name = str(spec["Name"])
    try:
        low = parse_number(str(spec["MinValue"]), integer)
        high = parse_number(str(spec["MaxValue"]), integer)
    except ValueError as exc:
        raise ValueError(f"hyperparameter {name}: {exc}") from exc
    if low > high:
        raise ValueError(f"hyperparameter {name}: MinValue {low} is greater than MaxValue {high}")
    try:
        scaling = _resolve_scaling(spec.get("ScalingType"), low, high, integer)
    except ValueError as exc:
        raise ValueError(f"hyperparameter {name}: {exc}") from exc
    if integer:
        return IntegerParam(name, int(low), int(high), scaling)
    return ContinuousParam(name, low, high, scaling)


def _categorical_param(spec: Mapping[str, Any]) -> CategoricalParam:
    values = tuple(str(v) for v in spec["Values"])
    if not values:
        raise ValueError(f"hyperparameter {spec['Name']}: Values must not be empty")
    if len(set(values)) != len(values):
        raise ValueError(f"hyperparameter {spec['Name']}: Values must be distinct")
    return CategoricalParam(str(spec["Name"]), values)


# --- the space --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchSpace:
    """The tunable hyperparameters of one training job definition."""

    params: tuple[Param, ...]

    def __post_init__(self) -> None:
        names = [p.name for p in self.params]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"hyperparameters named more than once: {', '.join(duplicates)}")

    @classmethod
    def from_parameter_ranges(cls, ranges: Mapping[str, Any]) -> SearchSpace:
        """Build from the API's ParameterRanges; raises ValueError naming the bad range."""
        params: list[Param] = []
        params += [_numeric_param(s, False) for s in ranges.get("ContinuousParameterRanges") or ()]
        params += [_numeric_param(s, True) for s in ranges.get("IntegerParameterRanges") or ()]
        params += [_categorical_param(s) for s in ranges.get("CategoricalParameterRanges") or ()]
        return cls(tuple(params))

    @property
    def dim(self) -> int:
        """Length of an encoded point (a categorical takes one coordinate per value)."""
        return sum(_width(p) for p in self.params)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    def param(self, name: str) -> Param:
        """The parameter called `name` (KeyError when there is none)."""
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def encode(self, config: Config) -> np.ndarray:
        """A point in [0,1]^dim; numbers outside the range are clipped, unknown categories fail."""
        x = np.zeros(self.dim)
        i = 0
        for p in self.params:
            text = config[p.name]
            if isinstance(p, CategoricalParam):
                if text not in p.values:
                    raise ValueError(f"{text!r} is not a value of categorical {p.name}")
                x[i + p.values.index(text)] = 1.0
            else:
                x[i] = _to_unit(p, parse_number(text, integer=False))
            i += _width(p)
        return x

    def decode(self, x: np.ndarray) -> Config:
        """The valid configuration nearest any point of R^dim (clipped, rounded, argmax)."""
        x = np.clip(np.nan_to_num(np.asarray(x, dtype=float), nan=0.5), 0.0, 1.0)
        if x.shape != (self.dim,):
            raise ValueError(f"expected a point of dimension {self.dim}, got shape {x.shape}")
        config: Config = {}
        i = 0
        for p in self.params:
            if isinstance(p, CategoricalParam):
                config[p.name] = p.values[int(np.argmax(x[i : i + len(p.values)]))]
            else:
                config[p.name] = format_value(p, _from_unit(p, float(x[i])))
            i += _width(p)
        return config

    def sample(self, rng: np.random.Generator, n: int) -> list[Config]:
        """`n` independent draws, uniform in the scaled space (so ScalingType is honoured)."""
        return [self.decode(x) for x in rng.random((n, self.dim))]

    def contains(self, config: Config) -> bool:
        """True when `config` sets exactly these parameters, each to a legal value."""
        return set(config) == set(self.names) and all(
            value_in_range(p, config[p.name]) for p in self.params
        )

    def grid(self) -> list[Config]:
        """Every combination of categorical values, first parameter varying slowest."""
        if not self.is_categorical:
            raise ValueError("a grid needs every hyperparameter range to be categorical")
        values = [p.values for p in self.params if isinstance(p, CategoricalParam)]
        return [dict(zip(self.names, combo, strict=True)) for combo in itertools.product(*values)]

    @property
    def combinations(self) -> int | None:
        """How many distinct configurations the space holds; None when that is unbounded
        (a continuous range) or the space is empty."""
        if not self.params or any(isinstance(p, ContinuousParam) for p in self.params):
            return None
        return math.prod(
            len(p.values) if isinstance(p, CategoricalParam) else p.high - p.low + 1
            for p in self.params
            if not isinstance(p, ContinuousParam)
        )

    @property
    def is_categorical(self) -> bool:
        """True when every parameter is categorical (what Grid search requires)."""
        return all(isinstance(p, CategoricalParam) for p in self.params)


def _width(p: Param) -> int:
    return len(p.values) if isinstance(p, CategoricalParam) else 1
