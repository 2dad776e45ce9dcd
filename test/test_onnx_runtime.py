"""`lnn-control export` and the torch-free runtime (`OnnxPolicy`): the files it writes, the rules
that refuse a changed or incomplete export, the same commands as the torch runtime on episodes
flown in the simulator, and no torch in the process that runs it (policy_node's loader included)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lnn_control.cli import main as cli_main
from lnn_control.envs import make_env
from lnn_control.paths import share_path
from lnn_control.policy import load_policy
from lnn_control.policy.bundle import HEADER_FILE, MODEL_FILE, ExportError
from lnn_control.policy.digest import file_sha256
from lnn_control.policy.onnx_runtime import load_onnx_policy
from lnn_control.rollout import ObserverBase, PolicyPilot, fly

SHIPPED = share_path("models", "cfc_forest.pt")
SHIPPED_EXPORT = share_path("models", "cfc_forest_onnx")
BASELINES = [share_path("models", "baselines", f"{kind}_forest.pt") for kind in ("lstm", "gru", "mlp")]
TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def exported(tmp_path_factory, checkpoint) -> Path:
    """The random-weight CfC checkpoint exported with the command line."""
    out = tmp_path_factory.mktemp("export") / "cfc"
    assert cli_main(["export", str(checkpoint), "--out", str(out)]) == 0
    return out


def test_export_help_names_the_files():
    result = subprocess.run([sys.executable, "-m", "lnn_control.cli", "export", "--help"], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0
    assert "policy.onnx" in result.stdout and "policy.json" in result.stdout and "--out" in result.stdout


def test_export_writes_the_step_and_the_checkpoints_header(exported, checkpoint):
    from lnn_control.policy import read_header

    header = json.loads((exported / HEADER_FILE).read_text())
    export = header.pop("export")
    assert header == read_header(checkpoint)   # the checkpoint's header, as it is
    assert export["sha256"] == file_sha256(exported / MODEL_FILE)
    assert export["state_size"] == 19 and export["model"] == MODEL_FILE
    assert export["checkpoint"] == {"file": checkpoint.name, "sha256": file_sha256(checkpoint)}
    assert export["check"]["max_abs_cmd_difference"] <= TOLERANCE and export["check"]["steps"] > 0


def test_export_of_a_bad_checkpoint_is_one_line_naming_it(tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    assert cli_main(["export", str(bad), "--out", str(tmp_path / "out")]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lnn-control export: ") and str(bad) in lines[0]


def _edit_header(change):
    def edit(directory: Path) -> None:
        path = directory / HEADER_FILE
        header = json.loads(path.read_text())
        change(header)
        path.write_text(json.dumps(header))
    return edit


def _flip_a_byte(directory: Path) -> None:
    path = directory / MODEL_FILE
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("edit, file, words", [
    (_flip_a_byte, MODEL_FILE, "does not match field export.sha256"),
    (lambda d: (d / MODEL_FILE).unlink(), MODEL_FILE, "not found"),
    (lambda d: (d / HEADER_FILE).unlink(), HEADER_FILE, "not found"),
    (lambda d: (d / HEADER_FILE).write_text("{not json"), HEADER_FILE, "not readable as JSON"),
    (_edit_header(lambda h: h["normalization"].pop("imu_std")), HEADER_FILE, "missing field normalization.imu_std"),
    (_edit_header(lambda h: h["normalization"].update(imu_mean=[0.0] * 5)), HEADER_FILE,
     "field normalization.imu_mean must be 6 finite numbers"),
    (_edit_header(lambda h: h["normalization"]["imu_mean"].__setitem__(5, 9.0)), HEADER_FILE,
     "not the one"),   # a plausible edit: the ONNX file's metadata holds the digest of the header
    (_edit_header(lambda h: h["spec"].update(image_width=80)), MODEL_FILE, "graph input image"),
    (_edit_header(lambda h: h["export"].update(state_size=7)), MODEL_FILE, "graph input state"),
    (_edit_header(lambda h: h["export"].update(sha256="abc")), HEADER_FILE, "field export.sha256 is not a hex"),
    (_edit_header(lambda h: h["export"].pop("sha256")), HEADER_FILE, "missing field export.sha256"),
    (_edit_header(lambda h: h["spec"].update(wings=2)), HEADER_FILE, "unknown policy spec field 'wings'"),
    (_edit_header(lambda h: h["command"].update(limits=[2.0, 2.0, 2.0])), HEADER_FILE, "field command.limits"),
    (_edit_header(lambda h: h["export"].update(format_version=9)), HEADER_FILE, "export.format_version is 9"),
])
def test_a_changed_or_incomplete_export_is_refused_naming_the_file_and_field(exported, tmp_path, edit, file, words):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(exported, copy)
    edit(copy)
    with pytest.raises(ExportError) as refused:
        load_onnx_policy(copy)
    message = str(refused.value)
    assert message.startswith(str(copy / file)) and words in message, message


def test_a_checkpoint_is_not_an_export():
    with pytest.raises(ExportError, match="policy.json: not found"):
        load_onnx_policy(SHIPPED.parent)


def test_the_step_contract_matches_the_torch_runtime(exported, checkpoint):
    onnx_policy, torch_policy = load_onnx_policy(exported), load_policy(checkpoint)
    assert onnx_policy.spec == torch_policy.spec
    frame = np.random.default_rng(1).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    for imu in ([0, 0, 0, 0, 0, 9.81], [np.nan, 0.1, np.inf, 0, -np.inf, 9.8], [0.2, 0, 0, 0, 0, np.nan]):
        got, want = onnx_policy.step(frame[::-1], imu, 0.04), torch_policy.step(frame[::-1], imu, 0.04)
        assert got.dtype == np.float32 and got.shape == (4,)
        np.testing.assert_allclose(got, want, atol=TOLERANCE)
    for bad_input in ((frame[..., 0], [0] * 6, 0.05), (frame, [0] * 5, 0.05), (frame, [0] * 6, 0.0),
                      (frame.astype(np.float32), [0] * 6, 0.05), (frame, [0] * 6, float("nan"))):
        with pytest.raises(ValueError) as onnx_error:
            onnx_policy.step(*bad_input)
        with pytest.raises(ValueError) as torch_error:
            torch_policy.step(*bad_input)
        assert str(onnx_error.value) == str(torch_error.value)


class SideBySide(ObserverBase):
    """Steps the exported runtime on every observation the torch-flown episode makes, and
    keeps the largest difference to the command the torch runtime decided."""

    def __init__(self, exported_policy):
        self.exported = exported_policy
        self.worst, self.steps = 0.0, 0

    def started(self, env, observation, info, seed):
        self.exported.reset()

    def decided(self, env, observation, info, decision):
        command = self.exported.step(observation["image"], observation["imu"], float(observation["dt"][0]))
        self.worst = max(self.worst, float(np.abs(command - decision.command).max()))
        self.steps += 1


@pytest.mark.skipif(not SHIPPED.is_file(), reason=f"no shipped model ({SHIPPED}): make it with `make model`")
@pytest.mark.parametrize("model, seconds", [(SHIPPED, 12.0), *[(path, 4.0) for path in BASELINES]],
                         ids=lambda value: value.stem if isinstance(value, Path) else None)
def test_commands_equal_the_torch_runtime_on_flown_episodes(tmp_path, model, seconds):
    """The shipped models fly forest episodes with torch (one with camera and IMU noise); the exported
    runtime, stepped on the same observations, commands the same within 1e-5."""
    assert cli_main(["export", str(model), "--out", str(tmp_path)]) == 0
    side = SideBySide(load_onnx_policy(tmp_path))
    pilot = PolicyPilot(load_policy(model))
    noisy = [("camera_noise", 1.0), ("imu_noise", 1.0)]
    for env, seed in ((make_env("forest"), 30_001), (make_env("forest", shifts=noisy), 30_002)):
        try:
            fly(env, pilot, seed=seed, observers=[side], max_seconds=seconds / 2)
        finally:
            env.close()
    assert side.steps >= seconds * 10 * 0.9 and side.worst <= TOLERANCE, (side.steps, side.worst)


@pytest.mark.skipif(not SHIPPED.is_file(), reason=f"no shipped model ({SHIPPED}): make it with `make model`")
def test_the_shipped_export_is_the_shipped_model():
    header = json.loads((SHIPPED_EXPORT / HEADER_FILE).read_text())
    assert header["export"]["checkpoint"]["sha256"] == file_sha256(SHIPPED), (
        f"{SHIPPED_EXPORT} is not the export of {SHIPPED}: run "
        f"`lnn-control export models/cfc_forest.pt --out models/cfc_forest_onnx`")
    load_onnx_policy(SHIPPED_EXPORT)


@pytest.mark.parametrize("kind, members", [("cfc", 3), ("mlp", 2)])
def test_an_ensemble_exports_with_its_members_and_its_uncertainty(tmp_path, kind, members):
    """An exported ensemble steps every member: the mean command and the members' disagreement
    equal the torch runtime's within 1e-5 (a stateless MLP ensemble included)."""
    torch = pytest.importorskip("torch")
    from lnn_control.policy import PolicySpec, build_network, save_checkpoint
    from lnn_control.policy.export import compare_runtimes

    torch.manual_seed(3)
    path = save_checkpoint(tmp_path / f"{kind}_ensemble.pt", build_network(PolicySpec(kind=kind, ensemble=members)))
    assert cli_main(["export", str(path), "--out", str(tmp_path / "export")]) == 0
    exported, reference = load_onnx_policy(tmp_path / "export"), load_policy(path)
    header = json.loads((tmp_path / "export" / HEADER_FILE).read_text())
    assert header["spec"]["ensemble"] == members
    assert header["export"]["outputs"]["cmd"].startswith(f"float32 [{members}, 4]")
    assert exported.uncertainty is None                       # before the first step, as the torch runtime
    assert compare_runtimes(reference, exported, episodes=2, steps=10, seed=5) <= TOLERANCE
    assert exported.uncertainty is not None and exported.uncertainty > 0
    assert exported.uncertainty == pytest.approx(reference.uncertainty, abs=TOLERANCE)
    exported.reset()
    assert exported.uncertainty is None


def test_the_runtime_and_the_nodes_loader_run_without_torch(exported):
    """In a fresh interpreter: the exported policy loads and steps, policy_node's loader picks
    the onnx runtime for it, and neither imports torch (nor the torch half of the policy layer)."""
    code = f"""
import sys
import numpy as np
from pathlib import Path
from lnn_control.policy import load_onnx_policy
from lnn_control.ros.policy_node import load_runtime
policy = load_onnx_policy({str(exported)!r})
cmd = policy.step(np.zeros((480, 640, 3), np.uint8), [0, 0, 0, 0, 0, 9.81], 0.05)
assert cmd.shape == (4,) and np.isfinite(cmd).all(), cmd
node_policy = load_runtime(Path({str(exported / HEADER_FILE)!r}), "auto")
assert node_policy.runtime == "onnx", node_policy
print(sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "ncps")
             or m in ("lnn_control.policy.checkpoint", "lnn_control.policy.runtime")))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stdout
