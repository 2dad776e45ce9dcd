"""The one YAML loader and validator (lnn_control.config_file): errors name file and field."""
from __future__ import annotations

import pickle
from dataclasses import dataclass

import pytest

from lnn_control.config_file import ConfigError, Fields, check_fields, read_yaml, setting


@dataclass(frozen=True)
class Inner:
    rate_hz: float = setting(20.0, above=0)
    mode: str = setting("fast", options=("fast", "slow"))


@dataclass(frozen=True)
class Outer:
    count: int = setting(1, low=1, high=9)
    label: str | None = None
    enabled: bool = True
    inner: Inner = Inner()

    def __post_init__(self):
        check_fields(self)


def test_read_yaml_names_the_file_and_where_the_yaml_breaks(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nowhere\.yaml: cannot read test file"):
        read_yaml(tmp_path / "nowhere.yaml", "test file")
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: 1\nb: [\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: line 3, column 1: not valid YAML: ") as error:
        read_yaml(bad, "test file")
    assert "\n" not in str(error.value)
    bad.write_bytes(b"\xff\xfe")
    with pytest.raises(ConfigError, match=r"bad\.yaml: \(top level\): not valid YAML: test file is not UTF-8"):
        read_yaml(bad, "test file")
    bad.write_text("")
    assert read_yaml(bad, "test file") is None


def test_config_error_is_one_line_and_survives_pickling():
    error = ConfigError("f.yaml", "a.b[2]", "bad\n  value")
    assert str(error) == "f.yaml: a.b[2]: bad value" and isinstance(error, ValueError)
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), str(copy), copy.field) == (ConfigError, str(error), "a.b[2]")


@pytest.mark.parametrize("read, message", [
    (lambda f: f.number("x", True), r"x: expected a number, got True"),
    (lambda f: f.number("x", 2.5, 0, 1), r"x: 2.5 is outside \[0, 1\]"),
    (lambda f: f.number("x", 0, above=0), r"x: 0 is outside \(0, inf\)"),
    (lambda f: f.number("x", 1, 0, below=1), r"x: 1 is outside \[0, 1\)"),
    (lambda f: f.integer("x", 3.0), r"x: expected an integer, got 3.0"),
    (lambda f: f.range("x", [2, 1]), r"x: low 2.0 is above high 1.0"),
    (lambda f: f.colors("x", [[0, 0, 0], [0, 2, 0]]), r"x\[1\]: 2 is outside \[0.0, 1.0\]"),
    (lambda f: f.items("x", "a", lambda name, v: v, "names"), r"x: expected a list of names, got 'a'"),
    (lambda f: f.mapping("", {"b": 1}, {"a"}), r"b: unknown key; valid keys: a"),
    (lambda f: f.mapping("m", {}, {"a"}, {"a"}), r"m\.a: required key is missing"),
    (lambda f: f.mapping("m", [], {"a"}), r"m: expected a mapping, got \[\]"),
])
def test_each_check_names_the_file_and_the_field(read, message):
    with pytest.raises(ConfigError, match=r"^doc\.yaml: " + message):
        read(Fields("doc.yaml"))


def test_a_dataclass_section_is_read_from_its_typed_fields():
    fields = Fields("doc.yaml")
    outer = fields.dataclass("", Outer, {"count": 3, "inner": {"rate_hz": 5}})
    assert outer == Outer(count=3, inner=Inner(rate_hz=5.0)) and isinstance(outer.inner.rate_hz, float)
    assert fields.dataclass("", Outer, {"label": None}).label is None
    for document, message in [({"count": 0}, r"count: 0 is outside \[1, 9\]"),
                              ({"inner": {"mode": "warp"}}, r"inner\.mode: 'warp' is not one of fast, slow"),
                              ({"inner": {"rate": 1}}, r"inner\.rate: unknown key; valid keys: mode, rate_hz"),
                              ({"enabled": "yes"}, r"enabled: expected true or false"),
                              ({"label": ""}, r"label: expected a non-empty string")]:
        with pytest.raises(ConfigError, match=r"^doc\.yaml: " + message):
            fields.dataclass("", Outer, document)


def test_check_fields_applies_the_same_rules_to_instances_built_in_code():
    with pytest.raises(ConfigError, match=r"^Outer: count: 10 is outside \[1, 9\]"):
        Outer(count=10)
