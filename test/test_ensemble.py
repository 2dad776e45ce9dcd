"""Ensemble policies: K cores + heads on one shared encoder, their mean command and disagreement,
checkpoints that hold the members, and training each member on its own bootstrap resample."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from bag_factory import write_bag

from lnn_control.cli import main
from lnn_control.policy import Policy, PolicySpec, build_network, load_checkpoint, load_policy, save_checkpoint
from lnn_control.policy.disagreement import disagreement
from lnn_control.train.behavior_cloning import bootstrap_weights

TINY = """
data: {sequence_length: 8, stride: 4, val_fraction: 0.34}
optim: {batch_size: 4, tbptt_steps: 4, warmup_epochs: 0}
"""


def frames(steps=5, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8), rng.normal(size=6).astype(np.float32))
            for _ in range(steps)]


@pytest.fixture(scope="module")
def ensemble():
    torch.manual_seed(0)
    return build_network(PolicySpec(ensemble=3)).eval()


def test_the_command_is_the_members_mean_and_the_uncertainty_their_disagreement(ensemble):
    assert ensemble.ensemble_size == 3 and len(ensemble.members()) == 3
    inputs = frames()
    images = torch.from_numpy(np.stack([f for f, _ in inputs]))[None]
    imu = torch.from_numpy(np.stack([i for _, i in inputs]))[None]
    dt = torch.full((1, len(inputs)), 0.05)
    with torch.no_grad():
        members, _ = ensemble(images, imu, dt, members=True)
        mean, state = ensemble(images, imu, dt)
    assert members.shape == (3, 1, 5, 4) and len(state) == 3
    torch.testing.assert_close(mean, members.mean(0))
    assert not torch.allclose(members[0], members[1]), "members are initialised apart"
    policy = Policy(ensemble)
    assert policy.uncertainty is None, "no step yet"
    for t, (image, reading) in enumerate(inputs):
        cmd = policy.step(image, reading, 0.05)
        np.testing.assert_allclose(cmd, mean[0, t].numpy(), atol=1e-5)
        expected = np.mean(members[:, 0, t].numpy().std(axis=0) / np.array([2.0, 2.0, 2.0, 1.0]))
        assert policy.uncertainty == pytest.approx(expected, abs=1e-5)
        assert policy.uncertainty > 0
    policy.reset()
    assert policy.uncertainty is None


def test_disagreement_is_zero_when_members_agree_and_one_at_most():
    limits = (2.0, 2.0, 2.0, 1.0)
    assert disagreement(np.tile([1.0, -0.5, 0.2, 0.3], (5, 1)), limits) == 0.0
    assert disagreement(np.array([[2.0, 2.0, 2.0, 1.0], [-2.0, -2.0, -2.0, -1.0]]), limits) == pytest.approx(1.0)
    assert disagreement(np.array([[1.0, 0, 0, 0], [-1.0, 0, 0, 0]]), limits) == pytest.approx(0.5 / 4)


def test_a_single_policy_has_no_uncertainty():
    policy = Policy(build_network(PolicySpec()).eval())
    image, reading = frames(1)[0]
    policy.step(image, reading, 0.05)
    assert policy.uncertainty is None


def test_checkpoints_hold_the_members_and_old_ones_load_as_one(ensemble, tmp_path):
    path = save_checkpoint(tmp_path / "ensemble.pt", ensemble)
    net, header = load_checkpoint(path)
    assert header["spec"]["ensemble"] == 3 and header["ensemble_members"] == 3
    for name, tensor in ensemble.state_dict().items():
        assert torch.equal(tensor, net.state_dict()[name]), name
    assert any(name.startswith("other_members.1.head") for name in net.state_dict())
    # a checkpoint written before ensembles: no ensemble in its spec, member 0's names only
    single = build_network(PolicySpec()).eval()
    saved = save_checkpoint(tmp_path / "single.pt", single)
    payload = torch.load(saved, weights_only=True)
    import json
    header = json.loads(payload["header"])
    del header["spec"]["ensemble"], header["ensemble_members"]
    payload["header"] = json.dumps(header)
    torch.save(payload, saved)
    old = load_policy(saved)
    assert old.spec.ensemble == 1 and set(old.net.state_dict()) == set(single.state_dict())


def test_bootstrap_weights_are_poisson_per_member_and_ones_for_one():
    np.testing.assert_array_equal(bootstrap_weights(7, 1, seed=0), np.ones((7, 1)))
    weights = bootstrap_weights(4000, 5, seed=0)
    assert weights.shape == (4000, 5) and weights.min() == 0
    assert weights.mean() == pytest.approx(1.0, abs=0.05) and weights.var() == pytest.approx(1.0, abs=0.1)
    assert not np.array_equal(weights[:, 0], weights[:, 1]), "each member its own resample"
    np.testing.assert_array_equal(weights, bootstrap_weights(4000, 5, seed=0))


def test_train_ensemble_trains_every_member_and_fine_tunes_only_the_same_size(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LNN_CONTROL_CACHE", str(tmp_path / "cache"))
    torch.set_num_threads(1)
    bags = tmp_path / "bags"
    for name in "abc":
        write_bag(bags / name, frames=24)
    (tmp_path / "tiny.yaml").write_text(TINY)
    out = tmp_path / "ensemble.pt"
    base = ["--bags", str(bags), "--config", str(tmp_path / "tiny.yaml"), "--epochs", "2"]
    torch.manual_seed(0)
    untrained = build_network(PolicySpec(ensemble=3)).state_dict()
    assert main(["train", *base, "--out", str(out), "--ensemble", "3", "--seed", "0"]) == 0
    net, header = load_checkpoint(out)
    assert net.ensemble_size == 3 and header["training"]["ensemble"] == 3
    for name in ("head.weight", "other_members.0.head.weight", "other_members.1.head.weight"):
        assert not torch.equal(net.state_dict()[name], untrained[name]), f"{name} was not trained"
    policy = Policy(net)
    image, reading = frames(1)[0]
    assert np.isfinite(policy.step(image, reading, 0.05)).all() and policy.uncertainty > 0
    capsys.readouterr()
    assert main(["train", *base, "--out", str(tmp_path / "child.pt"), "--init", str(out), "--ensemble", "2"]) == 1
    assert capsys.readouterr().err.strip() == (
        f"lnn-control train: --init {out} has 3 ensemble member(s); an ensemble of 2 cannot start from it "
        f"(leave the ensemble size out, or train from scratch)")
    assert main(["train", *base, "--out", str(tmp_path / "child.pt"), "--init", str(out), "--epochs", "1"]) == 0
    assert load_checkpoint(tmp_path / "child.pt")[0].ensemble_size == 3
