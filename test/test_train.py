"""Behaviour cloning from bags: every model kind, every bag format, bad bags, config errors, seeds."""
from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from bag_factory import write_bag

from lnn_control.cli import main
from lnn_control.data import messages as m
from lnn_control.policy import load_checkpoint, load_policy, read_header
from lnn_control.train.augment import augment_batch
from lnn_control.train.config import AugmentConfig, config_from_dict, load_config

TINY = """
data: {sequence_length: 8, stride: 4, val_fraction: 0.34}
optim: {batch_size: 4, tbptt_steps: 4, warmup_epochs: 0}
augment: {hflip: 0.5}
"""


@pytest.fixture
def bags(tmp_path, monkeypatch):
    monkeypatch.setenv("LNN_CONTROL_CACHE", str(tmp_path / "cache"))
    torch.set_num_threads(1)
    root = tmp_path / "bags"
    write_bag(root / "a_mcap_jpeg", storage="mcap", encoding="jpeg", frames=24)
    write_bag(root / "b_sqlite_bgr8", storage="sqlite3", encoding="bgr8", frames=24, cmd_type=m.TWIST_STAMPED)
    write_bag(root / "c_mcap_mono8", storage="mcap", encoding="mono8", frames=24, gap_after=11)
    (tmp_path / "tiny.yaml").write_text(TINY)
    return root


def _train(tmp_path, bags, kind, *extra):
    out = tmp_path / f"{kind}.pt"
    code = main(["train", "--bags", str(bags), "--model", kind, "--out", str(out), "--config",
                 str(tmp_path / "tiny.yaml"), *extra])
    return code, out


@pytest.mark.parametrize("kind", ["cfc", "lstm", "gru", "mlp"])
def test_every_model_kind_trains_from_mixed_bags_and_loads(tmp_path, bags, kind):
    code, out = _train(tmp_path, bags, kind, "--epochs", "1")
    assert code == 0
    policy = load_policy(out)
    cmd = policy.step(np.zeros((120, 160, 3), np.uint8), np.zeros(6), 0.05)
    assert cmd.shape == (4,) and np.isfinite(cmd).all()
    header = read_header(out)
    assert header["kind"] == kind and header["training"]["best_loss_is"] == "validation"
    assert len(header["training"]["val_bags"]) == 1 and len(header["training"]["train_bags"]) == 2
    train_bags = header["training"]["train_bags"]
    frames = [np.arange(24) for _ in train_bags]  # gyro x counts frames in every test bag
    expected_mean = np.concatenate(frames).mean()
    assert header["normalization"]["imu_mean"][0] == pytest.approx(expected_mean, rel=1e-5)
    assert header["normalization"]["imu_mean"][5] == pytest.approx(9.81, rel=1e-5)
    assert (tmp_path / f"{kind}.train.csv").is_file() and (tmp_path / f"{kind}.loss.png").stat().st_size > 1000


def test_training_lowers_the_loss_and_keeps_the_best_checkpoint(tmp_path, bags):
    code, out = _train(tmp_path, bags, "cfc", "--epochs", "6", "--seed", "3")
    assert code == 0
    rows = list(csv.DictReader((tmp_path / "cfc.train.csv").open()))
    train_losses = [float(r["train_loss"]) for r in rows]
    val_losses = [float(r["val_loss"]) for r in rows]
    assert min(train_losses[1:]) < train_losses[0]
    header = read_header(out)
    assert header["training"]["best_loss"] == pytest.approx(min(val_losses))
    assert header["training"]["best_epoch"] == 1 + int(np.argmin(val_losses))


def test_same_seed_same_weights(tmp_path, bags):
    _, first = _train(tmp_path, bags, "gru", "--epochs", "1", "--seed", "5")
    weights = load_checkpoint(first)[0].state_dict()
    first.rename(tmp_path / "first.pt")
    _, second = _train(tmp_path, bags, "gru", "--epochs", "1", "--seed", "5")
    for name, tensor in load_checkpoint(second)[0].state_dict().items():
        torch.testing.assert_close(tensor, weights[name], rtol=0, atol=0)


def test_bad_bag_stops_training_unless_skipped(tmp_path, bags, capsys):
    write_bag(bags / "d_wrong_topic", frames=6, cmd_topic="/joy/cmd")
    code, out = _train(tmp_path, bags, "mlp", "--epochs", "1")
    err = capsys.readouterr().err.strip()
    assert code == 1 and not out.exists()
    assert err.startswith("lnn-control train: ") and "d_wrong_topic" in err and "joy/cmd" in err and "\n" not in err
    code, out = _train(tmp_path, bags, "mlp", "--epochs", "1", "--skip-bad")
    err = capsys.readouterr().err
    assert code == 0 and "skipped bad bag" in err and "d_wrong_topic" in err
    skipped = read_header(out)["provenance"]["skipped_bags"]
    assert [s["path"] for s in skipped] == [str(bags / "d_wrong_topic")]


def test_topics_chosen_by_flags(tmp_path, bags, capsys):
    robot = tmp_path / "robot"
    write_bag(robot / "r1", frames=20, encoding="png", image_topic="/oak/rgb/compressed", imu_topic="/px4/imu",
              cmd_topic="/mavros/setpoint_velocity/cmd_vel", cmd_type=m.TWIST_STAMPED)
    out = tmp_path / "robot.pt"
    argv = ["train", "--bags", str(robot), "--model", "cfc", "--out", str(out), "--config", str(tmp_path / "tiny.yaml"),
            "--epochs", "1"]
    assert main(argv) == 1 and "topics there: /oak/rgb/compressed" in capsys.readouterr().err
    assert main(argv + ["--image-topic", "/oak/rgb/compressed", "--imu-topic", "/px4/imu",
                        "--cmd-topic", "/mavros/setpoint_velocity/cmd_vel"]) == 0
    assert read_header(out)["training"]["best_loss_is"] == "training"  # one bag: nothing to hold out


def test_config_errors_name_the_file_and_field(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("optim: {epochs: 3, learning_rate: 0.1}\n")
    with pytest.raises(ValueError, match=r"bad.yaml: optim.learning_rate: unknown key"):
        load_config(bad)
    bad.write_text("optim: {batch_size: many}\n")
    with pytest.raises(ValueError, match=r"bad.yaml: optim.batch_size: expected an integer"):
        load_config(bad)
    assert main(["train", "--bags", str(tmp_path), "--out", str(tmp_path / "x.pt"), "--config", str(bad)]) == 1
    assert capsys.readouterr().err.count("\n") == 1
    assert load_config("config/train.yaml") == load_config(None)  # the shipped file states the defaults


def test_mirroring_flips_image_and_the_lateral_signs_together():
    generator = torch.Generator().manual_seed(0)
    images = torch.arange(2 * 3 * 4 * 5 * 3, dtype=torch.int64).reshape(2, 3, 4, 5, 3).to(torch.uint8)
    imu = torch.arange(1, 37, dtype=torch.float32).reshape(2, 3, 6)
    cmd = torch.arange(1, 25, dtype=torch.float32).reshape(2, 3, 4)
    config = AugmentConfig(brightness=0, contrast=0, image_noise=0, imu_noise=0, hflip=1.0)
    out = augment_batch({"images": images, "imu": imu, "cmd": cmd}, config, torch.ones(6), generator)
    assert torch.equal(out["images"], images.flip(3))
    torch.testing.assert_close(out["imu"], imu * torch.tensor([-1, 1, -1, 1, -1, 1.0]))
    torch.testing.assert_close(out["cmd"], cmd * torch.tensor([1, -1, 1, -1.0]))
    config = AugmentConfig(brightness=0.5, contrast=0, image_noise=0, imu_noise=0, hflip=0)
    flat = torch.full((2, 3, 4, 5, 3), 100, dtype=torch.uint8)
    bright = augment_batch({"images": flat, "imu": imu, "cmd": cmd}, config, torch.ones(6), generator)["images"]
    assert all(len(torch.unique(bright[b])) == 1 for b in range(2))  # one draw per window, all its frames


def test_dropped_frames_leave_the_kept_ones_in_order_with_the_elapsed_time_as_at_run_time():
    """As the frame_drops shift at run time: a window's frames after its first dropped (never
    more than 4 in a row), the kept ones first with dt the time since the kept one before, the
    rest padding; frames of the window's own padding are never dropped."""
    generator = torch.Generator().manual_seed(2)
    windows, length = 200, 12
    frame = torch.arange(length, dtype=torch.float32).repeat(windows, 1)         # each frame's number
    dt = 0.05 * (1 + torch.rand(windows, length, generator=generator))           # s, uneven
    mask = torch.ones(windows, length)
    mask[:, 10:] = 0.0                                                           # the window's own padding
    dt[:, 10:] = dt[:, 9:10]
    batch = {"images": frame[..., None, None, None].expand(windows, length, 2, 2, 3).to(torch.uint8),
             "imu": frame[..., None].expand(windows, length, 6).clone(), "dt": dt, "mask": mask,
             "cmd": frame[..., None].expand(windows, length, 4).clone(), "member_weight": torch.ones(windows, length)}
    config = AugmentConfig(brightness=0, contrast=0, image_noise=0, imu_noise=0, hflip=0, frame_drops=0.9)
    out = augment_batch(batch, config, torch.ones(6), generator)
    assert torch.equal(out["member_weight"], batch["member_weight"])   # not a per-frame tensor: untouched
    real = out["mask"] > 0
    for w in range(windows):
        kept = out["cmd"][w, real[w], 0].long().tolist()
        assert kept[0] == 0 and kept == sorted(kept) and set(kept) <= set(range(10))
        assert max(b - a for a, b in zip(kept, kept[1:], strict=False)) <= 5     # at most 4 dropped in a row
        assert torch.equal(out["imu"][w, real[w], 0].long(), out["images"][w, real[w], 0, 0, 0].long())
        elapsed = dt[w].cumsum(0)
        expected = torch.cat([dt[w, :1], elapsed[kept[1:]] - elapsed[kept[:-1]]])
        torch.testing.assert_close(out["dt"][w, real[w]], expected)
    assert 2 * windows < int(real.sum()) < 6 * windows                  # most of the 9 droppable frames go
    assert (out["dt"][real] > 0.11).any()                               # timespans beyond the nominal ones
    plain = AugmentConfig(brightness=0, contrast=0, image_noise=0, imu_noise=0, hflip=0)
    assert torch.equal(augment_batch(batch, plain, torch.ones(6), generator)["dt"], dt)   # off: nothing dropped


def test_a_cfc_trains_through_dropped_frames(tmp_path, bags):
    (tmp_path / "tiny.yaml").write_text(TINY.replace("augment: {hflip: 0.5}", "augment: {frame_drops: 0.5}"))
    code, out = _train(tmp_path, bags, "cfc", "--epochs", "1")
    assert code == 0 and read_header(out)["training"]["config"]["augment"]["frame_drops"] == 0.5
    assert np.isfinite(load_policy(out).step(np.zeros((120, 160, 3), np.uint8), np.zeros(6), 0.25)).all()


def test_greyscale_windows_are_grey_in_every_frame_and_the_others_untouched():
    generator = torch.Generator().manual_seed(1)
    red = torch.zeros(64, 3, 4, 5, 3, dtype=torch.uint8)
    red[..., 0] = 200
    imu, cmd = torch.zeros(64, 3, 6), torch.zeros(64, 3, 4)
    config = AugmentConfig(brightness=0, contrast=0, image_noise=0, imu_noise=0, hflip=0, greyscale=0.5)
    out = augment_batch({"images": red, "imu": imu, "cmd": cmd}, config, torch.ones(6), generator)["images"]
    grey = (out == round(0.299 * 200)).flatten(1).all(1)      # luma of pure red in all three channels
    assert torch.equal(out[~grey], red[~grey])                 # a window is grey whole, or not at all
    assert 16 < int(grey.sum()) < 48                           # about half of the 64 windows
    with pytest.raises(ValueError, match=r"recipe.yaml: augment.greyscale: 1.5 is outside \[0, 1\]"):
        config_from_dict({"augment": {"greyscale": 1.5}}, "recipe.yaml")


def test_the_dagger_teachers_are_the_simulators():
    from dataclasses import fields

    from lnn_control.sim.expert import TEACHERS
    from lnn_control.train.config import DaggerConfig

    [teacher] = [f for f in fields(DaggerConfig) if f.name == "teacher"]
    assert set(teacher.metadata["lnn_control.config_file.rule"].options) == set(TEACHERS)


def test_fine_tuning_starts_from_the_parent_and_names_it(tmp_path, bags, capsys):
    from lnn_control.policy import load_checkpoint
    from lnn_control.policy.digest import file_sha256

    code, parent = _train(tmp_path, bags, "cfc", "--epochs", "1")
    assert code == 0
    other = tmp_path / "other_bags"
    write_bag(other / "bag", frames=40)   # gyro x counts frames: a mean other than the parent's data
    child = tmp_path / "child.pt"
    base = ["train", "--bags", str(other), "--out", str(child), "--epochs", "1",
            "--config", str(tmp_path / "tiny.yaml")]
    assert main([*base, "--init", str(parent), "--freeze-encoder", "--keep-normalization", "--lr", "0.0003"]) == 0
    parent_net, _ = load_checkpoint(parent)
    child_net, header = load_checkpoint(child)
    assert header["kind"] == "cfc"
    assert header["provenance"]["parent"]["sha256"] == file_sha256(parent)
    assert header["training"]["start"] == {"from": "given weights", "keep_normalization": True, "freeze_encoder": True}
    assert header["training"]["config"]["optim"]["lr"] == 0.0003
    for name, tensor in parent_net.image_encoder.state_dict().items():
        assert torch.equal(tensor, child_net.image_encoder.state_dict()[name]), f"frozen {name} changed"
    assert torch.equal(parent_net.imu_encoder.mean, child_net.imu_encoder.mean)
    assert not torch.equal(parent_net.head.weight, child_net.head.weight), "the rest is trained"
    # without --keep-normalization the new bags' statistics are used
    assert main([*base, "--init", str(parent)]) == 0
    assert not torch.equal(parent_net.imu_encoder.mean, load_checkpoint(child)[0].imu_encoder.mean)
    capsys.readouterr()
    assert main([*base, "--init", str(parent), "--model", "lstm"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (f"lnn-control train: --init {parent} is a cfc policy; --model lstm cannot start from it "
                   f"(leave --model out, or train a lstm from scratch)")
    assert main([*base, "--keep-normalization"]) == 1
    assert "--keep-normalization needs --init" in capsys.readouterr().err


def test_the_encoder_in_bfloat16_trains_as_float32_does(tmp_path, bags):
    """`optim.encoder_precision: bf16`: the same training, its image encoder computed in bfloat16
    (so the weights differ a little), its losses close to float32's; the checkpoint computes
    in float32 again."""
    from lnn_control.train.behavior_cloning import encoder_autocast

    assert encoder_autocast("fp32", torch.device("cpu")) is None
    assert encoder_autocast("bf16", torch.device("cpu")) is torch.bfloat16
    losses = {}
    for precision in ("fp32", "bf16"):
        (tmp_path / "tiny.yaml").write_text(TINY.replace("warmup_epochs: 0", f"warmup_epochs: 0, "
                                                         f"encoder_precision: {precision}"))
        code, out = _train(tmp_path, bags, "cfc", "--epochs", "3", "--seed", "3")
        assert code == 0
        losses[precision] = [float(r["train_loss"]) for r in csv.DictReader((tmp_path / "cfc.train.csv").open())]
        out.rename(tmp_path / f"{precision}.pt")
        assert read_header(tmp_path / f"{precision}.pt")["training"]["config"]["optim"]["encoder_precision"] \
            == precision
    assert losses["bf16"] != losses["fp32"], "the encoder did not run in bfloat16"
    np.testing.assert_allclose(losses["bf16"], losses["fp32"], rtol=0.05)
    assert losses["bf16"][-1] < losses["bf16"][0]
    net = load_checkpoint(tmp_path / "bf16.pt")[0]
    assert net.encoder_autocast is None
    assert net.image_encoder(torch.zeros(1, 48, 64, 3, dtype=torch.uint8)).dtype == torch.float32


def test_units_size_the_cfc_and_the_baseline_is_matched_to_that_cfc(tmp_path, bags, capsys):
    """`--units 34`: the original drone network's NCP (18 inter, 12 command, 4 motor neurons);
    an MLP trained with it has the parameter count of that CfC, not of the default 19-neuron one."""
    from lnn_control.policy import PolicySpec, build_network

    code, cfc = _train(tmp_path, bags, "cfc", "--epochs", "1", "--units", "34")
    assert code == 0
    net, header = load_checkpoint(cfc)
    assert header["spec"]["units"] == 34 and net.core.cfc.rnn_cell.layer_sizes == [18, 12, 4]
    code, mlp = _train(tmp_path, bags, "mlp", "--epochs", "1", "--units", "34")
    assert code == 0
    mlp_net, _ = load_checkpoint(mlp)
    small = build_network(PolicySpec(kind="mlp")).core_parameter_count()
    assert abs(mlp_net.core_parameter_count() - net.core_parameter_count()) <= 0.1 * net.core_parameter_count()
    assert mlp_net.core_parameter_count() > 1.2 * small
    capsys.readouterr()
    assert main(["train", "--bags", str(bags), "--out", str(tmp_path / "child.pt"), "--init", str(cfc),
                 "--units", "19", "--config", str(tmp_path / "tiny.yaml")]) == 1
    assert capsys.readouterr().err.strip() == (
        f"lnn-control train: --init {cfc} has 34 units; --units 19 cannot start from it "
        f"(leave --units out, or train from scratch)")
    code, _ = _train(tmp_path, bags, "cfc", "--units", "6")
    assert code == 1
    assert capsys.readouterr().err.strip().startswith("lnn-control train: --units 6: PolicySpec.motor_neurons (4)")
