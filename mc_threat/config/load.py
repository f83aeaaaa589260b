"""Validated configuration: pydantic v2 models, YAML loading and readable errors.

A configuration has four sections, each a frozen pydantic model::

    model:      ModelParams      threat and alignment parameters (MODEL.md sections 2-3)
    generator:  GeneratorParams  how random state systems are drawn (MODEL.md section 6)
    run:        RunParams        seed, number of systems and chunk size
    sweep:      dict | None      placeholder for the sweep design

Every field has the default of MODEL.md, so an empty section (or a missing one) means
"the defaults". Validation is strict and happens once, here, at the boundary:

* unknown keys are errors at every level (a typo never silently falls back to a default);
* numbers must be finite (NaN and infinities are rejected);
* booleans are not numbers, and neither are strings such as ``"1.0"``;
* integers are accepted where floats are expected (and stored as floats), but not the
  other way round (``systems: 2.0e5`` is an error, write ``200000``);
* NumPy scalars are accepted and converted to Python numbers (``np.bool_`` stays a boolean
  and is rejected), so sweep designs may pass ``np.float64`` values directly.

Every problem is reported as one line ``dotted.path: message``, for example
``model.weights.intent: must be >= 0, got -0.2``, collected in a :class:`ConfigError`.

Notes
-----
Models are frozen. ``model_copy(update=...)`` skips validation (a pydantic property), so build
changed parameters with :func:`coerce_params` / :func:`coerce_generator` or
``Model.model_validate`` instead.

YAML is read with ``yaml.safe_load`` (YAML 1.1). Two consequences worth knowing: exponent
notation needs a decimal point to be a float (``1.0e-3``; ``1e-3`` is read as the string
``'1e-3'`` and rejected, with a hint), and a duplicated key silently keeps its last value.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AllowInfNan,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ..design import SWEEP_DESIGNS, SweepConfig

__all__ = [
    "Config",
    "ConfigError",
    "GeneratorParams",
    "Kumaraswamy",
    "ModelParams",
    "RunParams",
    "Weights",
    "coerce_generator",
    "coerce_params",
    "config_from_dict",
    "config_from_yaml",
    "config_hash",
    "format_validation_error",
    "load_config",
]

SECTIONS = ("model", "generator", "run", "sweep")
"""Top-level keys of a configuration, in the order they are written."""

SEED_MAX = 2**63 - 1
"""Largest accepted seed (the counter-based generator keys on 64-bit words)."""


# ---------------------------------------------------------------------------------------------
# Strict number types
# ---------------------------------------------------------------------------------------------


def _numpy_scalar_to_python(value: Any) -> Any:
    """Turn a NumPy scalar (or 0-d array) into the equivalent Python object.

    Duck-typed so that this module does not import NumPy. ``np.bool_`` becomes ``bool`` and is
    then rejected by the strict number types, exactly like a Python ``True``.
    """
    if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0:
        return value.item()
    return value


FiniteFloat = Annotated[
    float, Strict(), AllowInfNan(False), BeforeValidator(_numpy_scalar_to_python)
]
"""A finite float; ints are accepted (stored as float), bools and strings are not."""

StrictInt = Annotated[int, Strict(), BeforeValidator(_numpy_scalar_to_python)]
"""An int; bools, floats (even integral ones) and strings are rejected."""


def _empty_sections_to_defaults(data: Any, names: Iterable[str]) -> Any:
    """Drop sub-sections given as ``None`` so that they take their defaults.

    A YAML section whose every line is commented out (``model:`` followed by nothing) loads
    as ``None``; treating it as "all defaults" is what a user means by it.
    """
    if isinstance(data, Mapping):
        return {k: v for k, v in data.items() if not (k in names and v is None)}
    return data


class _Frozen(BaseModel):
    """Base of all configuration models: frozen, unknown keys forbidden."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------


class Weights(_Frozen):
    """Weights of the four sources of threat (MODEL.md section 2).

    Parameters
    ----------
    power, proximity, offense, intent : float, default 1.0
        Non-negative, finite weights ``w_A, w_D, w_O, w_I`` of aggregate power, geographic
        proximity, offensive capability and offensive intentions. Only their ratios matter
        (the threat divides by their sum), and at least one must be positive.
    """

    power: FiniteFloat = Field(1.0, ge=0)
    proximity: FiniteFloat = Field(1.0, ge=0)
    offense: FiniteFloat = Field(1.0, ge=0)
    intent: FiniteFloat = Field(1.0, ge=0)

    @model_validator(mode="after")
    def _not_all_zero(self) -> Weights:
        total = ((self.power + self.proximity) + self.offense) + self.intent
        if total <= 0:
            raise ValueError("at least one weight must be > 0")
        if not math.isfinite(total):
            raise ValueError(f"the weights must have a finite sum (the threat divides by it), "
                             f"got {total}")
        return self


class ModelParams(_Frozen):
    """Parameters of threat assessment and alignment choice (MODEL.md sections 1-3).

    Parameters
    ----------
    n_states : int, default 16
        Number of states per system, ``2 <= n_states <= 100000``.
    form : {'additive', 'multiplicative'}, default 'additive'
        How the four criteria combine into a threat score.
    weights : Weights, default all 1.0
        Criterion weights; a (partial) mapping is accepted.
    reach : float, default 0.25
        Distance scale of the proximity term ``exp(-d / reach)``; ``> 0``.
    bandwagon_ratio : float, default 0.1
        beta in ``[0, 1]``: a state bandwagons when its power is below beta times the power
        of its principal threat.
    viability : float, default 0.5
        alpha ``>= 0``: balancers weaker than their threat bandwagon when the balancing
        coalition has less than alpha times the power of the threat's side. 0 switches
        the viability step off.
    neutral_below : float, default 0.0
        A state stays neutral when its principal threat level is below this; ``>= 0``.
    """

    n_states: StrictInt = Field(16, ge=2, le=100_000)
    form: Literal["additive", "multiplicative"] = "additive"
    weights: Weights = Field(default_factory=Weights)
    reach: FiniteFloat = Field(0.25, gt=0)
    bandwagon_ratio: FiniteFloat = Field(0.1, ge=0, le=1)
    viability: FiniteFloat = Field(0.5, ge=0)
    neutral_below: FiniteFloat = Field(0.0, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _empty_weights(cls, data: Any) -> Any:
        return _empty_sections_to_defaults(data, ("weights",))

    def weight_vector(self) -> tuple[float, float, float, float]:
        """Return the weights in the order ``(power, proximity, offense, intent)``.

        Returns
        -------
        tuple of 4 float
            ``(w_A, w_D, w_O, w_I)``, the order used by the kernels.
        """
        w = self.weights
        return (w.power, w.proximity, w.offense, w.intent)


class Kumaraswamy(_Frozen):
    """A Kumaraswamy(a, b) distribution on ``[0, 1]``: ``x = (1 - (1 - u)^(1/b))^(1/a)``.

    Parameters
    ----------
    a, b : float
        Finite shape parameters, both ``> 0``. Required here; the sections that use this
        model (:class:`GeneratorParams`) supply their own defaults.
    """

    a: FiniteFloat = Field(gt=0)
    b: FiniteFloat = Field(gt=0)


_OFFENSE_DEFAULT = {"a": 2.0, "b": 2.0}
_INTENT_DEFAULT = {"a": 1.0, "b": 3.0}


class GeneratorParams(_Frozen):
    """How randomized state systems are drawn (MODEL.md section 6).

    Parameters
    ----------
    power_sigma : float, default 1.0
        Log-scale spread sigma of the power components, in ``[0, 20]``.
    power_corr : float, default 0.7
        Correlation rho in ``[0, 1]`` between a state's three power components.
    offense : Kumaraswamy, default a=2, b=2
        Distribution of offensive posture ``o_i``.
    intent : Kumaraswamy, default a=1, b=3
        Distribution of (monadic) intent ``h_j``.

    Notes
    -----
    A partial mapping for ``offense`` or ``intent`` keeps the default of the shape it omits:
    ``{'offense': {'a': 3}}`` means Kumaraswamy(3, 2).
    """

    power_sigma: FiniteFloat = Field(1.0, ge=0, le=20)
    power_corr: FiniteFloat = Field(0.7, ge=0, le=1)
    offense: Kumaraswamy = Field(default_factory=lambda: Kumaraswamy(**_OFFENSE_DEFAULT))
    intent: Kumaraswamy = Field(default_factory=lambda: Kumaraswamy(**_INTENT_DEFAULT))

    @model_validator(mode="before")
    @classmethod
    def _fill_partial_distributions(cls, data: Any) -> Any:
        data = _empty_sections_to_defaults(data, ("offense", "intent"))
        if not isinstance(data, Mapping):
            return data
        data = dict(data)
        for name, default in (("offense", _OFFENSE_DEFAULT), ("intent", _INTENT_DEFAULT)):
            if isinstance(data.get(name), Mapping):
                data[name] = {**default, **data[name]}
        return data


_DEFAULT_CHUNK = 100_000


class RunParams(_Frozen):
    """Size and seed of a Monte Carlo run.

    Parameters
    ----------
    seed : int, default 20260101
        Key of the counter-based generator, ``0 <= seed <= 2**63 - 1``.
    systems : int, default 1000000
        Number of random systems per sweep point, ``>= 1``.
    chunk : int, default ``min(100000, systems)``
        Systems per task, ``1 <= chunk <= systems``. Results do not depend on it. When
        omitted it is capped at ``systems``, so ``{'systems': 1000}`` alone is valid; an
        explicit chunk larger than ``systems`` is an error.
    """

    seed: StrictInt = Field(20260101, ge=0, le=SEED_MAX)
    systems: StrictInt = Field(1_000_000, ge=1)
    chunk: StrictInt = Field(_DEFAULT_CHUNK, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _default_chunk_within_systems(cls, data: Any) -> Any:
        # Defaults are not validated by pydantic: without this, a small `systems` and the
        # default chunk would build an object that violates chunk <= systems.
        if isinstance(data, Mapping) and "chunk" not in data:
            systems = _numpy_scalar_to_python(data.get("systems"))
            if isinstance(systems, int) and not isinstance(systems, bool) and systems >= 1:
                return {**data, "chunk": min(_DEFAULT_CHUNK, systems)}
        return data

    @field_validator("chunk")
    @classmethod
    def _chunk_within_systems(cls, chunk: int, info: ValidationInfo) -> int:
        # `systems` is validated first (field order); it is absent when it was itself invalid.
        systems = info.data.get("systems")
        if systems is not None and chunk > systems:
            raise ValueError(f"must not exceed run.systems ({systems}), got {chunk}")
        return chunk


class Config(_Frozen):
    """A complete configuration.

    Parameters
    ----------
    model : ModelParams
        Threat and alignment parameters.
    generator : GeneratorParams
        Random system generator settings.
    run : RunParams
        Seed, number of systems and chunk size.
    sweep : SweepConfig or None, default None
        Sweep design (see :mod:`mc_threat.design`); None evaluates the single point the
        other sections describe.

    Notes
    -----
    A section given as ``None`` (an empty YAML section) takes its defaults.
    """

    model: ModelParams = Field(default_factory=ModelParams)
    generator: GeneratorParams = Field(default_factory=GeneratorParams)
    run: RunParams = Field(default_factory=RunParams)
    sweep: SweepConfig | None = None

    @model_validator(mode="before")
    @classmethod
    def _empty_sections(cls, data: Any) -> Any:
        return _empty_sections_to_defaults(data, ("model", "generator", "run"))

    def to_yaml(self) -> str:
        """Serialize to YAML that :func:`config_from_yaml` reads back to an equal config.

        Returns
        -------
        str
            The full configuration, sections in the order model, generator, run, sweep.
        """
        return yaml.safe_dump(
            self.model_dump(mode="json"), sort_keys=False, default_flow_style=False
        )


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


class ConfigError(ValueError):
    """An invalid configuration: one line per problem.

    Parameters
    ----------
    errors : str or iterable of str
        The problems, each ``dotted.path: message`` (a string is split into lines).
    source : str, optional
        Where the configuration came from (a file name), if known.

    Attributes
    ----------
    errors : list of str
        One line per problem; ``str(error)`` joins them with newlines.
    source : str or None
    """

    def __init__(self, errors: str | Iterable[str], source: str | None = None) -> None:
        lines = errors.splitlines() if isinstance(errors, str) else list(errors)
        self.errors: list[str] = [line for line in lines if line] or ["invalid configuration"]
        self.source = source
        super().__init__("\n".join(self.errors))

    def __str__(self) -> str:
        return "\n".join(self.errors)

    def __reduce__(self):  # picklable across dask workers despite the custom __init__
        return (type(self), (self.errors, self.source))


_MAX_SHOWN = 60


def _show(value: Any) -> str:
    """Short, single-line description of an offending value."""
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple | set):
        return f"a {type(value).__name__}"
    text = repr(value)
    if len(text) > _MAX_SHOWN:
        text = text[: _MAX_SHOWN - 3] + "..."
    return text


def _path(loc: Iterable[Any], prefix: str = "") -> str:
    """Render a pydantic ``loc`` as ``a.b[0].c`` after an optional prefix.

    Keys that are not ASCII identifiers (an unknown key ``"my key"``, ``""``, ``"1"``) are shown
    quoted in brackets, ``model['my key']``, so that the path stays one unambiguous token.
    """
    out = prefix.rstrip(".")
    loc = list(loc)
    if len(loc) > 1 and loc[0] == "sweep" and loc[1] in SWEEP_DESIGNS:
        del loc[1]  # the design name is the union's tag, not a key the user wrote
    for part in loc:
        if isinstance(part, str) and part.isascii() and part.isidentifier():
            out += f".{part}" if out else part
        else:
            out += f"[{_show(part)}]"
    return out


# Numbers that YAML 1.1 (PyYAML) reads as text: exponent notation needs both a decimal point
# in the mantissa and a signed exponent ("1.0e-3", "2.0e+4"); "1e-3" or "1.0e5" stay strings.
_EXPONENT = re.compile(r"^([-+]?(?:\d+\.?\d*|\.\d+))[eE]([-+]?\d+)$")


def _numeric_string_hint(value: str, want_int: bool) -> str:
    """A hint for a number that arrived as a string, or '' if it does not look like one."""
    try:
        number = float(value)
    except ValueError:
        return ""
    if not math.isfinite(number):
        return ""
    if want_int:
        integral = number.is_integer() and abs(number) < 2**63
        return f" (a string; write {int(number)})" if integral else ""
    match = _EXPONENT.match(value.strip())
    if match:
        mantissa, exponent = match.groups()
        if "." not in mantissa:
            mantissa += ".0"
        if exponent[0] not in "+-":
            exponent = "+" + exponent
        return (
            f" (YAML reads exponents without a decimal point and a sign as text; "
            f"write {mantissa}e{exponent})"
        )
    return " (a string; remove the quotes)"


def _number_message(kind: str, value: Any) -> str:
    """Message for a value that should have been a number (``kind``: 'a number'/'an integer')."""
    want_int = kind == "an integer"
    if isinstance(value, bool):
        return f"must be {kind}, not a boolean, got {value}"
    if isinstance(value, str):
        return f"must be {kind}, got {_show(value)}{_numeric_string_hint(value, want_int)}"
    if isinstance(value, int) and not want_int:  # an int too large to be a float
        return "must be a finite number, got an integer too large for a float"
    if value is None:
        return f"must be {kind}, got nothing (null)"
    return f"must be {kind}, got {_show(value)}"


def _allowed_keys(root: type[BaseModel] | None, loc: tuple[Any, ...]) -> list[str] | None:
    """Field names of the model found at ``loc`` below ``root``, or None if unknown."""
    cls = root
    for part in loc:
        if cls is None or not isinstance(part, str) or part not in cls.model_fields:
            return None
        annotation = cls.model_fields[part].annotation
        cls = (
            annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel)
            else None
        )
    return list(cls.model_fields) if cls is not None else None


_MODELS: dict[str, type[BaseModel]] = {
    m.__name__: m for m in (Config, ModelParams, Weights, GeneratorParams, Kumaraswamy, RunParams)
}


def _unknown_key_message(root: type[BaseModel] | None, loc: tuple[Any, ...]) -> str:
    allowed = _allowed_keys(root, loc[:-1])
    if not allowed:
        return "unknown key"
    close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
    if close:
        return f"unknown key (did you mean '{close[0]}'?)"
    return f"unknown key (allowed: {', '.join(allowed)})"


def _message(error: Mapping[str, Any], root: type[BaseModel] | None) -> tuple[tuple, str]:
    """The (loc, message) of one pydantic error dict, in this module's wording."""
    kind = error["type"]
    loc = tuple(error["loc"])
    value = error.get("input")
    ctx = error.get("ctx") or {}

    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        op, key = {
            "greater_than": (">", "gt"),
            "greater_than_equal": (">=", "ge"),
            "less_than": ("<", "lt"),
            "less_than_equal": ("<=", "le"),
        }[kind]
        bound = ctx.get(key)
        if isinstance(bound, float) and bound.is_integer():
            bound = int(bound)  # pydantic stores float bounds: show "0", not "0.0"
        return loc, f"must be {op} {bound}, got {_show(value)}"
    if kind == "finite_number":
        return loc, f"must be finite, got {_show(value)}"
    if kind in ("float_type", "float_parsing"):
        return loc, _number_message("a number", value)
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return loc, _number_message("an integer", value)
    if kind == "literal_error":
        expected = str(ctx.get("expected", "")).replace(" or ", ", ")
        return loc, f"must be one of {expected}, got {_show(value)}"
    if kind == "extra_forbidden":
        return loc, _unknown_key_message(root, loc)
    if kind == "missing":
        return loc, "required key is missing"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return loc, f"must be a mapping, got {_show(value)}"
    if kind == "invalid_key":  # a non-string key of a model: loc ends with the key itself
        return loc[:-1], f"keys must be strings, got key {_show(loc[-1])}"
    if kind == "string_type" and loc and loc[-1] == "[key]":  # a non-string key of a dict
        return loc[:-2], f"keys must be strings, got key {_show(loc[-2])}"
    if kind == "string_type":
        return loc, f"must be a string, got {_show(value)}"
    if kind in ("value_error", "assertion_error") and "error" in ctx:
        return loc, str(ctx["error"])
    if kind in ("bool_type", "bool_parsing"):
        return loc, f"must be true or false, got {_show(value)}"
    if kind in ("list_type", "tuple_type"):
        return loc, f"must be a list, got {_show(value)}"
    if kind in ("too_short", "too_long"):
        bound = ctx.get("min_length" if kind == "too_short" else "max_length")
        most = "at least" if kind == "too_short" else "at most"
        return loc, f"must have {most} {bound} item(s), got {ctx.get('actual_length', '?')}"
    if kind in ("union_tag_not_found", "union_tag_invalid"):  # the sweep's `design` key
        designs = ", ".join(repr(d) for d in SWEEP_DESIGNS)
        tag = ctx.get("tag")
        got = "it is missing" if tag is None else f"got {_show(tag)}"
        return (*loc, ctx.get("discriminator", "design").strip("'")), (
            f"must be one of {designs}, {got}")
    return loc, f"{error.get('msg', 'invalid value')}, got {_show(value)}"


def format_validation_error(exc: ValidationError, prefix: str = "") -> list[str]:
    """Describe a pydantic validation error as one line per problem.

    Parameters
    ----------
    exc : pydantic.ValidationError
        The error raised by one of this module's models.
    prefix : str, optional
        Dotted path of the validated object inside a configuration (for example
        ``'model'`` when validating a :class:`ModelParams` alone); a trailing dot is optional.

    Returns
    -------
    list of str
        Lines ``dotted.path: message``, e.g. ``model.weights.intent: must be >= 0, got -0.2``.
        Problems that concern the object as a whole are reported on ``prefix`` (or
        ``<config>`` when there is no prefix).
    """
    root = _MODELS.get(exc.title)
    lines = []
    for error in exc.errors(include_url=False):
        loc, message = _message(error, root)
        path = _path(loc, prefix) or "<config>"
        line = f"{path}: {message}"
        lines.append(" ".join(line.splitlines()))
    return lines


# ---------------------------------------------------------------------------------------------
# Building configurations
# ---------------------------------------------------------------------------------------------


def _validate(model: type[_Frozen], data: Any, prefix: str, source: str | None) -> Any:
    """``model.model_validate(data)``, with validation errors turned into ConfigError."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = format_validation_error(exc, prefix)
        if source is not None:
            lines = [f"{source}: {line}" for line in lines]
        raise ConfigError(lines, source) from None


def _kind(value: Any) -> str:
    """'a list', 'an int', ... for messages about the wrong kind of object."""
    name = type(value).__name__
    if value is None:
        return "nothing (null)"
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


def config_from_dict(d: Mapping[str, Any], *, source: str | None = None) -> Config:
    """Validate a configuration given as a (nested) mapping.

    Parameters
    ----------
    d : mapping
        Sections ``model``, ``generator``, ``run``, ``sweep``; each optional.
    source : str, optional
        Name of the origin (a file); when given, every error line starts with it.

    Returns
    -------
    Config

    Raises
    ------
    ConfigError
        If ``d`` is not a mapping or any value is invalid, one line per problem.
    """
    if isinstance(d, Config):
        return d
    if not isinstance(d, Mapping):
        where = source if source is not None else "<config>"
        raise ConfigError(
            f"{where}: top level must be a mapping of sections ({', '.join(SECTIONS)}), "
            f"got {_kind(d)}",
            source,
        )
    return _validate(Config, dict(d), "", source)


def config_from_yaml(text: str, source: str = "<string>") -> Config:
    """Parse and validate a configuration written in YAML.

    Parameters
    ----------
    text : str
        YAML text, read with ``yaml.safe_load``.
    source : str, default '<string>'
        Name used at the start of every error line.

    Returns
    -------
    Config

    Raises
    ------
    ConfigError
        On invalid YAML (with line and column), an empty document, a top level that is not
        a mapping, or invalid values.
    """
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = exc.problem or exc.context or "syntax error"
        context = exc.context_mark
        if exc.context and context is not None and context is not mark:
            # e.g. the flow sequence that was never closed, which may start lines earlier
            problem += f" ({exc.context} at line {context.line + 1}, column {context.column + 1})"
        raise ConfigError(f"{source}: invalid YAML{where}: {problem}", source) from None
    except yaml.reader.ReaderError as exc:
        raise ConfigError(
            f"{source}: invalid YAML at character offset {exc.position}: "
            f"{exc.reason} ({exc.character!r})",
            source,
        ) from None
    except RecursionError:
        raise ConfigError(f"{source}: invalid YAML: nested too deeply", source) from None
    except Exception as exc:  # noqa: BLE001 - ReaderError, or a bad explicit tag (!!float x)
        detail = " ".join(str(exc).split())
        raise ConfigError(f"{source}: invalid YAML: {detail}", source) from None
    if data is None:
        raise ConfigError(
            f"{source}: configuration is empty (expected a mapping with sections "
            f"{', '.join(SECTIONS)})",
            source,
        )
    return config_from_dict(data, source=source)


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate a YAML configuration file.

    Parameters
    ----------
    path : str or path-like
        The YAML file (UTF-8).

    Returns
    -------
    Config

    Raises
    ------
    ConfigError
        If the file is missing, a directory, unreadable, not UTF-8, not valid YAML, empty,
        not a mapping at the top level, or holds invalid values. Every line starts with the
        file name.
    """
    name = os.fspath(path)
    file = Path(name)
    if file.is_dir():
        raise ConfigError(f"{name}: is a directory, not a configuration file", name)
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{name}: configuration file not found", name) from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(f"{name}: cannot read configuration file: {reason}", name) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{name}: not a UTF-8 text file (bad byte at offset {exc.start})", name
        ) from None
    return config_from_yaml(text, source=name)


def coerce_params(p: ModelParams | Mapping[str, Any] | None) -> ModelParams:
    """Model parameters from a :class:`ModelParams`, a (partial) mapping or None.

    Parameters
    ----------
    p : ModelParams, mapping or None
        Missing keys (including keys of a partial ``weights`` mapping) take their defaults;
        None means all defaults.

    Returns
    -------
    ModelParams

    Raises
    ------
    ConfigError
        Invalid values; paths start with ``model.`` as in a configuration file.
    """
    if isinstance(p, ModelParams):
        return p
    if p is None:
        return ModelParams()
    if not isinstance(p, Mapping):
        raise ConfigError(f"model: must be a mapping or ModelParams, got {_kind(p)}")
    return _validate(ModelParams, dict(p), "model", None)


def coerce_generator(g: GeneratorParams | Mapping[str, Any] | None) -> GeneratorParams:
    """Generator settings from a :class:`GeneratorParams`, a (partial) mapping or None.

    Parameters
    ----------
    g : GeneratorParams, mapping or None
        Missing keys take their defaults (a partial ``offense``/``intent`` mapping keeps the
        default of the omitted shape); None means all defaults.

    Returns
    -------
    GeneratorParams

    Raises
    ------
    ConfigError
        Invalid values; paths start with ``generator.`` as in a configuration file.
    """
    if isinstance(g, GeneratorParams):
        return g
    if g is None:
        return GeneratorParams()
    if not isinstance(g, Mapping):
        raise ConfigError(f"generator: must be a mapping or GeneratorParams, got {_kind(g)}")
    return _validate(GeneratorParams, dict(g), "generator", None)


def config_hash(config: Config) -> str:
    """SHA-256 of a configuration's canonical JSON form.

    Parameters
    ----------
    config : Config

    Returns
    -------
    str
        64 hex digits of ``sha256(json.dumps(config.model_dump(mode='json'), sort_keys=True,
        separators=(',', ':')))``. Equal configurations hash equally however they were written
        (key order, ``1`` versus ``1.0`` for a float field).
    """
    canonical = json.dumps(
        config.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=True
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
