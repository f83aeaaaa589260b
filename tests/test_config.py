"""Tests of mc_threat.config: defaults, YAML loading, error messages, coercion, fuzzing."""

from __future__ import annotations

import math
import os
import pickle
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from mc_threat.config import (
    Config,
    ConfigError,
    GeneratorParams,
    Kumaraswamy,
    ModelParams,
    RunParams,
    Weights,
    coerce_generator,
    coerce_params,
    config_from_dict,
    config_from_yaml,
    config_hash,
    format_validation_error,
    load_config,
)

_DESIGNS = "'grid', 'points', 'lhs', 'sobol', 'morris'"

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_YAML = ROOT / "configs" / "default.yaml"
INVALID = ROOT / "configs" / "invalid"

# A problem line: "path: message", where the path is dotted, with non-identifier keys and
# list indices in brackets (or <config> for the top level, or the source file first).
_SEGMENT = r"(?:\w+|\[[^\n]*?\])"
LINE = re.compile(rf"^(?:<config>|{_SEGMENT}(?:\.\w+|\[[^\n]*?\])*): \S.*$")


def errors_of(call, *args) -> list[str]:
    """Run ``call(*args)``, which must raise ConfigError, and return its lines."""
    with pytest.raises(ConfigError) as info:
        call(*args)
    err = info.value
    assert isinstance(err, ValueError)
    assert str(err) == "\n".join(err.errors)
    assert err.errors, "a ConfigError must carry at least one line"
    for line in err.errors:
        assert "\n" not in line and line.strip() == line and line
    return err.errors


# ---------------------------------------------------------------------------------------------
# Defaults (MODEL.md section 6)
# ---------------------------------------------------------------------------------------------


def test_model_defaults_match_model_md():
    p = ModelParams()
    assert p.n_states == 16
    assert p.form == "additive"
    assert p.weight_vector() == (1.0, 1.0, 1.0, 1.0)
    assert p.reach == 0.25
    assert p.bandwagon_ratio == 0.1
    assert p.viability == 0.5
    assert p.neutral_below == 0.0


def test_generator_and_run_defaults():
    g = GeneratorParams()
    assert (g.power_sigma, g.power_corr) == (1.0, 0.7)
    assert (g.offense.a, g.offense.b) == (2.0, 2.0)
    assert (g.intent.a, g.intent.b) == (1.0, 3.0)
    r = RunParams()
    assert (r.seed, r.systems, r.chunk) == (20260101, 1_000_000, 100_000)
    c = Config()
    assert c.sweep is None
    assert c.model == ModelParams() and c.generator == g and c.run == r


def test_weight_vector_order():
    p = ModelParams(weights=Weights(power=1, proximity=2, offense=3, intent=4))
    assert p.weight_vector() == (1.0, 2.0, 3.0, 4.0)
    assert all(type(w) is float for w in p.weight_vector())


def test_default_yaml_equals_defaults():
    assert load_config(DEFAULT_YAML) == Config()
    assert load_config(str(DEFAULT_YAML)) == Config()


def test_default_yaml_spells_out_every_field():
    # The shipped file documents every field explicitly, not by omission.
    import yaml

    raw = yaml.safe_load(DEFAULT_YAML.read_text())
    want = Config().model_dump(mode="json")
    # run.reservoir = 0 is left out of dumps (so configs hash as before the field existed);
    # the file spells it out all the same
    assert "reservoir" not in want["run"]
    want["run"]["reservoir"] = 0
    assert raw == want
    from mc_threat.config import RunParams

    assert set(raw["run"]) == set(RunParams.model_fields)


def test_models_are_frozen():
    p = ModelParams()
    with pytest.raises(ValidationError, match="frozen"):
        p.reach = 1.0  # type: ignore[misc]


def test_empty_sections_take_defaults():
    assert config_from_dict({}) == Config()
    assert config_from_dict({"model": None, "generator": None, "run": None}) == Config()
    assert config_from_yaml("model:\ngenerator:\nrun:\n") == Config()
    assert config_from_dict({"model": {"weights": None}}) == Config()


def test_ints_accepted_for_floats_and_stored_as_float():
    p = coerce_params({"reach": 1, "weights": {"power": 2}})
    assert type(p.reach) is float and p.reach == 1.0
    assert type(p.weights.power) is float


def test_numpy_scalars_accepted():
    np = pytest.importorskip("numpy")
    p = coerce_params({"n_states": np.int64(8), "weights": {"power": np.float32(0.5)}})
    assert p.n_states == 8 and type(p.n_states) is int
    assert p.weights.power == 0.5 and type(p.weights.power) is float
    lines = errors_of(coerce_params, {"weights": {"power": np.bool_(True)}})
    assert lines[0].startswith("model.weights.power: ")
    lines = errors_of(coerce_params, {"reach": np.float64("nan")})
    assert lines == ["model.reach: must be finite, got nan"]


# ---------------------------------------------------------------------------------------------
# Bad inputs: exact paths, one line per problem
# ---------------------------------------------------------------------------------------------

W = "weights"
BAD_DICTS = [
    # (config dict, expected dotted path, a fragment of the message)
    ({"model": {W: {"intent": -0.2}}}, "model.weights.intent", "must be >= 0, got -0.2"),
    ({"model": {W: {"power": math.nan}}}, "model.weights.power", "must be finite, got nan"),
    ({"model": {W: {"proximity": math.inf}}}, "model.weights.proximity", "must be finite, got inf"),
    ({"model": {W: {"offense": -math.inf}}}, "model.weights.offense", "must be finite"),
    ({"model": {W: {"power": True}}}, "model.weights.power", "not a boolean"),
    ({"model": {W: {"intent": False}}}, "model.weights.intent", "not a boolean"),
    ({"model": {W: {"power": "1.0"}}}, "model.weights.power", "must be a number, got '1.0'"),
    ({"model": {W: {"power": "abc"}}}, "model.weights.power", "must be a number, got 'abc'"),
    ({"model": {W: {"power": None}}}, "model.weights.power", "must be a number"),
    ({"model": {W: {"power": [1.0]}}}, "model.weights.power", "must be a number, got a list"),
    (
        {"model": {W: {"power": 0, "proximity": 0, "offense": 0, "intent": 0.0}}},
        "model.weights",
        "at least one weight must be > 0",
    ),
    ({"model": {W: 3}}, "model.weights", "must be a mapping, got 3"),
    ({"model": {W: {"pwer": 1}}}, "model.weights.pwer", "unknown key"),
    ({"model": {"foo": 1}}, "model.foo", "unknown key"),
    ({"generator": {"foo": 1}}, "generator.foo", "unknown key"),
    ({"generator": {"offense": {"c": 1}}}, "generator.offense.c", "unknown key"),
    (
        {"generator": {"intent": {"a": 1, "b": 1, "mean": 1}}},
        "generator.intent.mean",
        "unknown key",
    ),
    ({"run": {"workers": 4}}, "run.workers", "unknown key"),
    ({"output": "x.zarr"}, "output", "unknown key"),
    ({"model": {"n_states": 1}}, "model.n_states", "must be >= 2, got 1"),
    ({"model": {"n_states": 10**9}}, "model.n_states", "must be <= 100000, got 1000000000"),
    ({"model": {"n_states": 16.0}}, "model.n_states", "must be an integer, got 16.0"),
    ({"model": {"n_states": True}}, "model.n_states", "not a boolean"),
    ({"model": {"n_states": "16"}}, "model.n_states", "must be an integer, got '16'"),
    ({"model": {"reach": 0}}, "model.reach", "must be > 0, got 0"),
    ({"model": {"reach": -1.5}}, "model.reach", "must be > 0, got -1.5"),
    ({"model": {"reach": math.nan}}, "model.reach", "must be finite, got nan"),
    ({"model": {"bandwagon_ratio": 1.5}}, "model.bandwagon_ratio", "must be <= 1, got 1.5"),
    ({"model": {"bandwagon_ratio": -0.1}}, "model.bandwagon_ratio", "must be >= 0"),
    ({"model": {"viability": -1}}, "model.viability", "must be >= 0, got -1"),
    ({"model": {"neutral_below": -0.5}}, "model.neutral_below", "must be >= 0"),
    (
        {"model": {"form": "linear"}},
        "model.form",
        "must be one of 'additive', 'multiplicative', got 'linear'",
    ),
    ({"model": {"form": 1}}, "model.form", "must be one of"),
    ({"model": 5}, "model", "must be a mapping, got 5"),
    ({"generator": {"power_sigma": 21}}, "generator.power_sigma", "must be <= 20, got 21"),
    ({"generator": {"power_sigma": -1}}, "generator.power_sigma", "must be >= 0"),
    ({"generator": {"power_corr": 1.01}}, "generator.power_corr", "must be <= 1"),
    ({"generator": {"offense": {"a": 0}}}, "generator.offense.a", "must be > 0, got 0"),
    ({"generator": {"intent": {"b": math.inf}}}, "generator.intent.b", "must be finite"),
    ({"generator": {"intent": [1, 3]}}, "generator.intent", "must be a mapping, got a list"),
    ({"run": {"chunk": 3_000_000}}, "run.chunk",
     "must not exceed run.systems (1000000), got 3000000"),
    ({"run": {"systems": 10, "chunk": 11}}, "run.chunk", "must not exceed run.systems (10)"),
    ({"run": {"systems": 0}}, "run.systems", "must be >= 1, got 0"),
    ({"run": {"systems": "abc"}}, "run.systems", "must be an integer, got 'abc'"),
    ({"run": {"systems": 2.0e5}}, "run.systems", "must be an integer, got 200000.0"),
    ({"run": {"chunk": 0}}, "run.chunk", "must be >= 1, got 0"),
    ({"run": {"seed": -1}}, "run.seed", "must be >= 0, got -1"),
    ({"run": {"seed": 2**63}}, "run.seed", "must be <= 9223372036854775807"),
    ({"sweep": 3}, "sweep", "must be a mapping, got 3"),
    ({"sweep": {1: "x"}}, "sweep.design", f"must be one of {_DESIGNS}, it is missing"),
    ({"sweep": {"design": "cube"}}, "sweep.design", f"must be one of {_DESIGNS}, got 'cube'"),
]


@pytest.mark.parametrize(("data", "path", "fragment"), BAD_DICTS, ids=lambda v: None)
def test_bad_dict_reports_dotted_path(data, path, fragment):
    lines = errors_of(config_from_dict, data)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{path}: "), lines
    assert fragment in lines[0], lines


def test_exact_messages_from_the_brief():
    cases = {
        "model.weights.intent: must be >= 0, got -0.2": {"model": {W: {"intent": -0.2}}},
        "run.systems: must be an integer, got 'abc'": {"run": {"systems": "abc"}},
        "model.form: must be one of 'additive', 'multiplicative', got 'linear'": {
            "model": {"form": "linear"}
        },
        "model.reach: must be finite, got nan": {"model": {"reach": math.nan}},
        "model.weights: at least one weight must be > 0": {
            "model": {W: {"power": 0, "proximity": 0, "offense": 0, "intent": 0}}
        },
    }
    for expected, data in cases.items():
        assert errors_of(config_from_dict, data) == [expected]
    assert errors_of(config_from_dict, {"model": {"foo": 1}})[0].startswith(
        "model.foo: unknown key"
    )


def test_unknown_key_suggests_the_closest_field():
    (line,) = errors_of(config_from_dict, {"model": {"wieghts": {}}})
    assert line == "model.wieghts: unknown key (did you mean 'weights'?)"
    (line,) = errors_of(config_from_dict, {"zzz": 1})
    assert line == "zzz: unknown key (allowed: model, generator, run, sweep)"


def test_several_problems_give_one_line_each():
    data = {
        "model": {"n_states": 1, "reach": 0, W: {"power": -1}, "foo": 2},
        "generator": {"power_corr": 2},
        "run": {"systems": 5, "chunk": 6},
    }
    lines = errors_of(config_from_dict, data)
    paths = [line.split(": ", 1)[0] for line in lines]
    assert sorted(paths) == sorted(
        [
            "model.n_states",
            "model.reach",
            "model.weights.power",
            "model.foo",
            "generator.power_corr",
            "run.chunk",
        ]
    )


def test_numbers_written_as_yaml_text_get_a_hint():
    (line,) = errors_of(config_from_yaml, "model:\n  reach: 1e-3\n")
    assert line.startswith("<string>: model.reach: must be a number, got '1e-3'")
    assert "write 1.0e-3" in line
    (line,) = errors_of(config_from_yaml, "run:\n  systems: 1e6\n  chunk: 10\n")
    assert "run.systems: must be an integer, got '1e6'" in line and "write 1000000" in line
    assert config_from_yaml("model:\n  reach: 1.0e-3\n").model.reach == 0.001


def test_default_chunk_is_capped_at_systems():
    assert config_from_dict({"run": {"systems": 1000}}).run.chunk == 1000
    assert RunParams(systems=7).chunk == 7
    assert RunParams(systems=10**7).chunk == 100_000
    # ...but an explicit chunk larger than systems is an error.
    (line,) = errors_of(config_from_dict, {"run": {"systems": 1000, "chunk": 100_000}})
    assert line == "run.chunk: must not exceed run.systems (1000), got 100000"


def test_config_from_dict_rejects_non_mappings():
    for bad in ([1, 2], "model", 3, None):
        (line,) = errors_of(config_from_dict, bad)
        assert "top level must be a mapping" in line


def test_odd_keys_are_quoted_in_paths():
    (line,) = errors_of(config_from_dict, {"model": {"my key": 1}})
    assert line.startswith("model['my key']: unknown key")
    (line,) = errors_of(config_from_dict, {"0": 1})
    assert line.startswith("['0']: unknown key")
    (line,) = errors_of(config_from_dict, {"model": {"": 1}})
    assert line.startswith("model['']: unknown key")


def test_non_string_top_level_key():
    (line,) = errors_of(config_from_dict, {1: {}})
    assert line.startswith("<config>: keys must be strings")


def test_format_validation_error_prefix():
    with pytest.raises(ValidationError) as info:
        ModelParams.model_validate({"reach": -1, W: {"offense": "x"}})
    lines = format_validation_error(info.value, prefix="model")
    assert lines == format_validation_error(info.value, prefix="model.")
    assert sorted(lines) == [
        "model.reach: must be > 0, got -1",
        "model.weights.offense: must be a number, got 'x'",
    ]
    bare = format_validation_error(info.value)
    assert "reach: must be > 0, got -1" in bare


def test_kumaraswamy_requires_both_shapes():
    with pytest.raises(ValidationError) as info:
        Kumaraswamy.model_validate({"a": 1})
    assert format_validation_error(info.value, "generator.offense") == [
        "generator.offense.b: required key is missing"
    ]


def test_config_error_pickles():
    err = ConfigError(["a.b: x", "c: y"], source="f.yaml")
    back = pickle.loads(pickle.dumps(err))
    assert back.errors == err.errors and back.source == "f.yaml" and str(back) == str(err)
    assert ConfigError("one\ntwo").errors == ["one", "two"]


# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    path = tmp_path / "nope.yaml"
    (line,) = errors_of(load_config, path)
    assert line == f"{path}: configuration file not found"


def test_directory(tmp_path):
    (line,) = errors_of(load_config, tmp_path)
    assert line.startswith(str(tmp_path)) and "directory" in line


@pytest.mark.skipif(
    os.name != "posix" or (hasattr(os, "geteuid") and os.geteuid() == 0),
    reason="permissions are not enforced for root / non-POSIX",
)
def test_unreadable_file(tmp_path):
    path = tmp_path / "secret.yaml"
    path.write_text("model: {}\n")
    path.chmod(0)
    try:
        (line,) = errors_of(load_config, path)
    finally:
        path.chmod(0o644)
    assert line.startswith(f"{path}: cannot read configuration file")


def test_unreadable_file_any_user(tmp_path, monkeypatch):
    # Root ignores file permissions, so also simulate the OS refusing the read.
    path = tmp_path / "c.yaml"
    path.write_text("model: {}\n")

    def refuse(self):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)
    (line,) = errors_of(load_config, path)
    assert line == f"{path}: cannot read configuration file: Permission denied"


def test_empty_file(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_bytes(b"")
    (line,) = errors_of(load_config, path)
    assert line.startswith(f"{path}: configuration is empty")


def test_broken_yaml_reports_line_and_column(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("model:\n  reach: 0.3\n  weights: {power: 1\nrun:\n  seed: 3\n")
    (line,) = errors_of(load_config, path)
    assert re.match(rf"^{re.escape(str(path))}: invalid YAML at line \d+, column \d+: ", line)


def test_non_mapping_yaml(tmp_path):
    for text, kind in (("- 1\n- 2\n", "a list"), ("42\n", "an int"), ("hello\n", "a str")):
        path = tmp_path / "x.yaml"
        path.write_text(text)
        (line,) = errors_of(load_config, path)
        assert line == (
            f"{path}: top level must be a mapping of sections "
            f"(model, generator, run, sweep), got {kind}"
        )


def test_not_utf8(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("model: {form: caf\u00e9}\n".encode("latin-1"))
    (line,) = errors_of(load_config, path)
    assert line.startswith(f"{path}: not a UTF-8 text file")


def test_unsafe_yaml_tags_are_rejected():
    (line,) = errors_of(config_from_yaml, "model: !!python/object/apply:os.system ['true']\n")
    assert line.startswith("<string>: invalid YAML at line 1")


def test_validation_errors_from_a_file_name_the_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model:\n  weights:\n    intent: -0.2\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.errors == [f"{path}: model.weights.intent: must be >= 0, got -0.2"]
    assert info.value.source == str(path)


INVALID_FILES = {
    # The error is found on line 4; the unclosed "[" that caused it opens on line 3.
    "broken_yaml.yaml": ["invalid YAML at line 4, column 4: expected ',' or ']'"],
    "empty.yaml": ["configuration is empty"],
    "exponent_as_text.yaml": ["model.reach: must be a number, got '1e-3'"],
    "negative_weight.yaml": ["model.weights.intent: must be >= 0, got -0.2"],
    "not_a_mapping.yaml": ["top level must be a mapping"],
    "unknown_key.yaml": ["model.wieghts: unknown key", "extra_section: unknown key"],
    "several_errors.yaml": [
        "model.n_states: must be >= 2, got 1",
        "model.form: must be one of 'additive', 'multiplicative', got 'linear'",
        "model.reach: must be finite, got nan",
        "model.bandwagon_ratio: must be <= 1, got 1.5",
        "model.weights.power: must be a number, not a boolean, got True",
        "model.weights.offense: must be a number, got '0.5'",
        "generator.power_corr: must be >= 0, got -0.1",
        "generator.offense.a: must be > 0, got 0",
        "run.chunk: must not exceed run.systems (100), got 1000",
    ],
}


def test_every_invalid_example_is_covered():
    assert sorted(p.name for p in INVALID.glob("*.yaml")) == sorted(INVALID_FILES)


@pytest.mark.parametrize("name", sorted(INVALID_FILES))
def test_invalid_example_files(name):
    path = INVALID / name
    lines = errors_of(load_config, path)
    expected = INVALID_FILES[name]
    assert len(lines) == len(expected), lines
    for fragment in expected:
        assert any(line.startswith(f"{path}: ") and fragment in line for line in lines), (
            fragment,
            lines,
        )


# ---------------------------------------------------------------------------------------------
# Coercion
# ---------------------------------------------------------------------------------------------


def test_coerce_params_accepts_instances_dicts_and_none():
    p = ModelParams(reach=0.5)
    assert coerce_params(p) is p
    assert coerce_params(None) == ModelParams()
    assert coerce_params({}) == ModelParams()
    q = coerce_params({"reach": 0.5, "weights": {"intent": 3}})
    assert q.reach == 0.5 and q.n_states == 16
    assert q.weight_vector() == (1.0, 1.0, 1.0, 3.0)


def test_coerce_params_errors_use_model_prefix():
    assert errors_of(coerce_params, {"weights": {"intent": -0.2}}) == [
        "model.weights.intent: must be >= 0, got -0.2"
    ]
    assert errors_of(coerce_params, {"bogus": 1})[0].startswith("model.bogus: unknown key")
    assert errors_of(coerce_params, [1, 2]) == [
        "model: must be a mapping or ModelParams, got a list"
    ]


def test_coerce_generator_accepts_instances_dicts_and_none():
    g = GeneratorParams(power_sigma=2.0)
    assert coerce_generator(g) is g
    assert coerce_generator(None) == GeneratorParams()
    assert coerce_generator({}) == GeneratorParams()
    h = coerce_generator({"power_corr": 0.2, "offense": {"a": 3}})
    assert h.power_corr == 0.2 and h.power_sigma == 1.0
    # A partial distribution keeps the default of the omitted shape.
    assert (h.offense.a, h.offense.b) == (3.0, 2.0)
    assert (h.intent.a, h.intent.b) == (1.0, 3.0)
    assert coerce_generator({"intent": {"b": 5}}).intent == Kumaraswamy(a=1, b=5)
    assert coerce_generator({"intent": Kumaraswamy(a=4, b=4)}).intent == Kumaraswamy(a=4, b=4)


def test_coerce_generator_errors_use_generator_prefix():
    assert errors_of(coerce_generator, {"offense": {"b": -1}}) == [
        "generator.offense.b: must be > 0, got -1"
    ]
    assert errors_of(coerce_generator, 3) == [
        "generator: must be a mapping or GeneratorParams, got an int"
    ]


# ---------------------------------------------------------------------------------------------
# Serialization and hashing
# ---------------------------------------------------------------------------------------------


def test_to_yaml_round_trip():
    c = config_from_dict(
        {
            "model": {"n_states": 40, "form": "multiplicative", "reach": 1.0e-5},
            "generator": {"intent": {"a": 0.5}},
            "run": {"seed": 2**63 - 1, "systems": 10, "chunk": 3},
            "sweep": {"design": "grid", "factors": {"model.weights.power": [0.0, 0.5, 1.0]}},
        }
    )
    assert config_from_yaml(c.to_yaml()) == c
    assert config_from_yaml(Config().to_yaml()) == Config()


def test_config_hash_is_canonical():
    a = config_from_dict({"model": {"reach": 1, "n_states": 8}, "run": {"seed": 5}})
    b = config_from_dict({"run": {"seed": 5}, "model": {"n_states": 8, "reach": 1.0}})
    assert config_hash(a) == config_hash(b)
    assert re.fullmatch(r"[0-9a-f]{64}", config_hash(a))
    assert config_hash(a) != config_hash(Config())
    assert config_hash(config_from_yaml(a.to_yaml())) == config_hash(a)
    # Stable across releases unless the schema or defaults change on purpose.
    assert config_hash(Config()) == config_hash(load_config(DEFAULT_YAML))


# ---------------------------------------------------------------------------------------------
# Fuzzing: anything in, a Config or a ConfigError out
# ---------------------------------------------------------------------------------------------

FIELD_NAMES = sorted(
    {"model", "generator", "run", "sweep", "a", "b"}
    | set(ModelParams.model_fields)
    | set(Weights.model_fields)
    | set(GeneratorParams.model_fields)
    | set(RunParams.model_fields)
)

leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=-3, max_value=30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=0, max_value=1),
    st.text(max_size=6),
    st.sampled_from(["additive", "multiplicative", "1.0", "1e-3", "nan", ""]),
)
keys = st.one_of(st.sampled_from(FIELD_NAMES), st.text(max_size=4), st.integers(-2, 2))
values = st.recursive(
    leaves,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(keys, inner, max_size=5)),
    max_leaves=25,
)


sections = st.fixed_dictionaries(
    {},
    optional={
        "model": st.one_of(
            values,
            st.fixed_dictionaries(
                {},
                optional={
                    **{k: values for k in ModelParams.model_fields if k != "weights"},
                    "weights": st.one_of(
                        values,
                        st.fixed_dictionaries(
                            {}, optional={k: leaves for k in Weights.model_fields}
                        ),
                    ),
                },
            ),
        ),
        "generator": st.one_of(
            values,
            st.fixed_dictionaries(
                {},
                optional={
                    "power_sigma": leaves,
                    "power_corr": leaves,
                    "offense": st.one_of(
                        values, st.fixed_dictionaries({}, optional={"a": leaves, "b": leaves})
                    ),
                    "intent": values,
                },
            ),
        ),
        "run": st.one_of(
            values, st.fixed_dictionaries({}, optional={k: leaves for k in RunParams.model_fields})
        ),
        "sweep": values,
    },
)


def _check_outcome(call, arg):
    try:
        result = call(arg)
    except ConfigError as err:
        assert err.errors
        for line in err.errors:
            assert line and "\n" not in line
            if line.startswith("<string>: "):  # from YAML text: the source name comes first
                line = line.removeprefix("<string>: ")
                assert line.strip() == line and line
                if line.startswith(("invalid YAML", "configuration is empty", "top level")):
                    continue
            assert LINE.match(line), line
        return None
    assert isinstance(result, Config)
    # A valid config hashes, and survives YAML (the free-form sweep may hold NaN != NaN).
    if result.sweep is None:
        assert config_from_yaml(result.to_yaml()) == result
    assert len(config_hash(result)) == 64
    return result


@settings(max_examples=400, deadline=None)
@given(st.one_of(sections, values, st.dictionaries(keys, values, max_size=6)))
def test_fuzz_config_from_dict(data):
    _check_outcome(config_from_dict, data)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_fuzz_config_from_yaml_text(text):
    _check_outcome(config_from_yaml, text)


@settings(max_examples=200, deadline=None)
@given(
    n_states=st.integers(2, 100_000),
    form=st.sampled_from(["additive", "multiplicative"]),
    weights=st.lists(st.floats(0, 1e6), min_size=4, max_size=4).filter(lambda w: sum(w) > 0),
    reach=st.floats(min_value=1e-300, max_value=1e300),
    beta=st.floats(0, 1),
)
def test_valid_params_round_trip(n_states, form, weights, reach, beta):
    p = coerce_params(
        {
            "n_states": n_states,
            "form": form,
            "weights": dict(zip(Weights.model_fields, weights, strict=True)),
            "reach": reach,
            "bandwagon_ratio": beta,
        }
    )
    assert p.weight_vector() == tuple(weights)
    c = Config(model=p)
    assert config_from_yaml(c.to_yaml()) == c


def test_weights_whose_sum_overflows_are_rejected():
    from mc_threat.config import ConfigError, coerce_params

    with pytest.raises(ConfigError) as exc:
        coerce_params({"weights": {"power": 1e308, "proximity": 1e308}})
    assert "model.weights: the weights must have a finite sum" in str(exc.value)
