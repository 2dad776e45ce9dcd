"""Checkpoint files: round trip, header contents, and the errors users meet."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from lnn_control.policy import (
    CheckpointError,
    PolicySpec,
    build_network,
    load_checkpoint,
    load_policy,
    read_header,
    save_checkpoint,
)
from lnn_control.policy.checkpoint import FORMAT_VERSION


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(1)
    net = build_network(PolicySpec(kind="cfc", image_height=32, image_width=40, max_yaw_rate=0.7)).eval()
    net.set_imu_normalization([0, 0, 0, 0, 0, 9.8], [0.5] * 3 + [2.0] * 3)
    path = save_checkpoint(tmp_path / "sub" / "policy.pt", net, training={"epochs": 3, "loss": "mse"},
                           provenance={"bags": ["bags/ep0"], "git": "abc"})
    return net, path


def test_round_trip_reproduces_the_policy(saved):
    net, path = saved
    loaded, header = load_checkpoint(path)
    assert loaded.spec == net.spec and not loaded.training
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (1, 3, 32, 40, 3), dtype=torch.uint8, generator=g)
    imu, dt = torch.randn(1, 3, 6, generator=g), torch.tensor([[0.05, 0.1, 0.03]])
    with torch.no_grad():
        assert torch.equal(net(images, imu, dt)[0], loaded(images, imu, dt)[0])
    policy = load_policy(path)
    assert policy.spec.image_width == 40 and policy.spec.max_yaw_rate == 0.7
    assert policy.step(np.zeros((120, 160, 3), np.uint8), np.zeros(6), 0.05).shape == (4,)


def test_header_describes_the_weights(saved):
    net, path = saved
    header = read_header(path)
    json.dumps(header)
    assert header["format_version"] == FORMAT_VERSION and header["kind"] == "cfc"
    assert header["spec"]["units"] == 19 and header["parameter_count"] == net.parameter_count()
    assert header["input_spec"]["image"] == {"height": 32, "width": 40, "channels": 3, "dtype": "uint8",
                                             "encoding": "rgb8"}
    assert header["normalization"]["imu_mean"][5] == pytest.approx(9.8)
    assert header["command"]["limits"] == [2.0, 2.0, 2.0, pytest.approx(0.7)]
    assert header["training"] == {"epochs": 3, "loss": "mse"}
    assert header["provenance"]["bags"] == ["bags/ep0"]
    untrained = save_checkpoint(path.with_name("untrained.pt"), net)
    assert read_header(untrained)["training"] is None


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.pt"
    with pytest.raises(CheckpointError, match="nope.pt.*not found"):
        load_policy(missing)
    with pytest.raises(FileNotFoundError):
        load_checkpoint(missing)


def test_not_a_checkpoint(tmp_path):
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    plain = tmp_path / "plain.pt"
    torch.save({"weights": torch.zeros(3)}, plain)
    for path in (text, plain, tmp_path):
        with pytest.raises(CheckpointError, match="not an lnn_control checkpoint|directory") as error:
            load_checkpoint(path)
        assert str(path) in str(error.value)


class _Exploit:
    def __reduce__(self):
        return (open, ("/tmp/lnn_control_checkpoint_exploit_ran", "w"))


def test_loading_runs_no_pickled_code(tmp_path):
    evil = tmp_path / "evil.pt"
    torch.save({"header": "{}", "state_dict": {}, "payload": _Exploit()}, evil)
    with pytest.raises(CheckpointError, match="evil.pt"):
        load_checkpoint(evil)
    import os
    assert not os.path.exists("/tmp/lnn_control_checkpoint_exploit_ran")


@pytest.mark.parametrize("version, message", [
    (FORMAT_VERSION + 1, rf"other.pt.*version {FORMAT_VERSION + 1} is newer"),
    (FORMAT_VERSION - 1, rf"other.pt.*version {FORMAT_VERSION - 1} is older.*no layer norm.*retrain"),
])
def test_other_format_version(saved, tmp_path, version, message):
    _, path = saved
    payload = torch.load(path, weights_only=True)
    header = json.loads(payload["header"])
    header["format_version"] = version
    payload["header"] = json.dumps(header)
    other = tmp_path / "other.pt"
    torch.save(payload, other)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(other)


def test_shape_mismatch_names_the_file_and_tensor(saved, tmp_path):
    _, path = saved
    payload = torch.load(path, weights_only=True)
    payload["state_dict"]["head.weight"] = torch.zeros(4, 7)
    broken = tmp_path / "broken.pt"
    torch.save(payload, broken)
    with pytest.raises(CheckpointError, match=r"broken.pt.*head.weight"):
        load_checkpoint(broken)


def test_header_must_be_json(tmp_path):
    net = build_network(PolicySpec(kind="mlp"))
    with pytest.raises(ValueError, match="JSON"):
        save_checkpoint(tmp_path / "x.pt", net, training={"optimizer": object()})
