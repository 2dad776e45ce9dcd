"""Distribution shifts: each changes what it claims and only that; suites load and validate."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lnn_control.envs.shifts import SHIFTS, Condition, apply_shifts, load_suite, parse_shift

REPO = Path(__file__).resolve().parent.parent
SUITES = REPO / "config" / "eval_suites.yaml"


# --------------------------------------------------------------------------- parsing and suites


def test_parse_shift_reads_name_and_severity():
    assert parse_shift("fog:0.25") == ("fog", 0.25)
    assert parse_shift(" wind : 1 ") == ("wind", 1.0)
    assert parse_shift("latency") == ("latency", 0.5)


@pytest.mark.parametrize(
    "text, words",
    [("fgo:0.5", ["'fgo'", "fog", "wind", "autumn"]), ("fog:1.5", ["fog", "1.5", "[0, 1]"]), ("fog:lots", ["fog", "lots"])],
)
def test_parse_shift_errors_name_the_problem(text, words):
    with pytest.raises(ValueError) as err:
        parse_shift(text)
    for word in words:
        assert word in str(err.value)


def test_standard_suite_has_none_and_every_shift_family_at_moderate_severity():
    conditions = load_suite(SUITES, "standard")
    by_name = {c.name: c for c in conditions}
    assert by_name["none"].shifts == ()
    used = {shift for c in conditions for shift, _ in c}
    families = {"autumn", "winter", "dim", "bright", "fog", "motion_blur", "camera_noise", "imu_noise",
                "imu_bias", "wind", "latency", "frame_drops", "density", "target_appearance", "distractors"}
    assert families <= used <= set(SHIFTS)
    assert all(0.3 <= severity <= 0.7 for c in conditions for _, severity in c)


def test_quick_suite_is_small_and_starts_in_distribution():
    conditions = load_suite(SUITES, "quick")
    assert 2 <= len(conditions) <= 3
    assert conditions[0] == Condition("none", ())
    assert list(conditions[2]) == [("fog", 0.5), ("wind", 0.5)]


@pytest.mark.parametrize(
    "text, words",
    [
        ("suites:\n  s:\n    conditions:\n      c: {fgo: 0.5}\n", ["suites.s.conditions.c.fgo", "unknown shift", "fog"]),
        ("suites:\n  s:\n    conditions:\n      c: {fog: 2}\n", ["suites.s.conditions.c.fog", "2"]),
        ("suites:\n  s:\n    condition:\n      c: {}\n", ["suites.s", "conditions"]),
        ("suite: {}\n", ["top level", "suites"]),
        ("suites:\n  other:\n    conditions: {c: {}}\n", ["no suite 's'", "other"]),
    ],
)
def test_suite_errors_name_file_and_field(tmp_path, text, words):
    path = tmp_path / "suites.yaml"
    path.write_text(text)
    with pytest.raises(ValueError) as err:
        load_suite(path, "s")
    assert str(path) in str(err.value)
    for word in words:
        assert word in str(err.value)


def test_missing_suite_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.yaml"):
        load_suite(tmp_path / "nowhere.yaml", "standard")
