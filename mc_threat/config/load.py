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
from typing import Any

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from ..errors import ConfigError
from .base import (  # noqa: F401  (re-exported: mc_threat.config's names)
    FiniteFloat,
    Frozen,
    StrictInt,
    empty_sections_to_defaults,
    python_scalar,
)
from .params import (  # noqa: F401  (re-exported)
    SEED_MAX,
    GeneratorParams,
    Kumaraswamy,
    ModelParams,
    RunParams,
    Weights,
)
from .sweep import SWEEP_DESIGNS, SweepConfig

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
    "unknown_key_message",
    "load_config",
]

SECTIONS = ("model", "generator", "run", "sweep")
"""Top-level keys of a configuration, in the order they are written."""



class Config(Frozen):
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
        return empty_sections_to_defaults(data, ("model", "generator", "run"))

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


def unknown_key_message(root: type[BaseModel] | None, loc: tuple[Any, ...]) -> str:
    """``unknown key``, with the closest allowed key or the list of allowed keys of the model
    found at ``loc[:-1]`` below ``root`` (configs and case files word it the same)."""
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
        return loc, unknown_key_message(root, loc)
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


def _validate(model: type[Frozen], data: Any, prefix: str, source: str | None) -> Any:
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
