"""policy_node running an export (`lnn-control export`) over real DDS: the commands of the torch
runtime within 1e-5, and no torch in its process.

The node runs in its own process on simulated time (as `TestCompressedStampedSimTime` in
test_policy_node.py, whose frame-by-frame stepping this reuses), with `model_path` an export
directory of the random-weight checkpoint; this process runs the same checkpoint with torch.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from ros_harness import start_process, stop_processes
from test_policy_node import IMU_AT_REST, PERIOD, POLICY_NODE, START_S, _robot, _run_node, _scene, step_frame

from lnn_control.paths import share_path
from lnn_control.policy import load_policy

SHIPPED_EXPORT = share_path("models", "cfc_forest_onnx")


@pytest.fixture(scope="module")
def export_dir(checkpoint, tmp_path_factory) -> Path:
    from lnn_control.policy.export import export_policy

    out = tmp_path_factory.mktemp("export") / "random_cfc"
    export_policy(checkpoint, out)
    return out


@pytest.fixture(scope="class")
def onnx_robot(export_dir, tmp_path_factory):
    parameters = {"model_path": export_dir, "control_rate": 0.0, "stamped": True, "use_sim_time": True,
                  "watchdog_timeout": 0.5}
    with _robot(parameters, tmp_path_factory) as robot:
        robot.start_clock(10 * 1_000_000_000)
        yield robot


class TestExportedModel:
    @pytest.fixture
    def robot(self, onnx_robot):
        return onnx_robot

    def test_commands_equal_the_torch_runtimes(self, robot, checkpoint):
        torch_policy = load_policy(checkpoint)
        epoch = (robot.clock_ns // 10**10 + 1) * 10**10
        offsets = [0, 50_000_000, 150_000_000, 175_000_000, 225_000_000]  # dt 50 ms, 100 ms (a drop), 25 ms, 50 ms
        dts = [torch_policy.spec.nominal_dt, 0.05, 0.1, 0.025, 0.05]
        torch_policy.reset()
        for k, (offset, dt) in enumerate(zip(offsets, dts, strict=True)):
            image, imu = _scene(10 + k, 96, 128), IMU_AT_REST + 0.05 * k   # twice the policy's size: resized
            command, _ = step_frame(robot, epoch + offset, image, imu)
            expected = torch_policy.step(image, imu, dt)
            assert np.all(np.isfinite(command))
            np.testing.assert_allclose(command, expected, atol=1e-5, err_msg=f"frame {k} (dt {dt})")

    def test_torch_is_not_loaded_in_the_node(self, robot):
        step_frame(robot, robot.clock_ns + PERIOD, _scene(3))
        maps = Path(f"/proc/{robot.process.pid}/maps").read_text()
        assert "onnxruntime" in maps
        assert "libtorch" not in maps and "libc10" not in maps
        report = robot.report_after(0, lambda values: "runtime" in values)
        assert report["runtime"] == "onnx"


def test_runtime_onnx_with_a_checkpoint_stops_the_node_with_one_line(ros_domain_id, checkpoint):
    result = _run_node("--ros-args", "-p", f"model_path:={checkpoint}", "-p", "runtime:=onnx")
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert result.returncode == 1
    assert len(lines) == 1 and "FATAL" in lines[0] and str(checkpoint) in lines[0]
    assert f"lnn-control export {checkpoint} --out DIR" in lines[0]


def test_debug_with_an_export_stops_the_node_with_one_line(ros_domain_id, export_dir):
    """The debug topics' saliency maps need torch, which the export's runtime never loads."""
    result = _run_node("--ros-args", "-p", f"model_path:={export_dir}", "-p", "debug:=true")
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1 and "FATAL" in lines[0]
    assert "debug:=true needs the torch runtime" in lines[0]


def test_a_changed_export_stops_the_node_with_one_line(ros_domain_id, export_dir, tmp_path):
    import shutil

    copy = tmp_path / "changed"
    shutil.copytree(export_dir, copy)
    onnx_file = copy / "policy.onnx"
    onnx_file.write_bytes(onnx_file.read_bytes()[:-10])
    result = _run_node("--ros-args", "-p", f"model_path:={copy}")
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1 and "FATAL" in lines[0]
    assert f"{onnx_file}: SHA-256" in lines[0] and "export.sha256" in lines[0]


@pytest.mark.skipif(not SHIPPED_EXPORT.is_dir(), reason=f"no shipped export ({SHIPPED_EXPORT})")
def test_runtime_onnx_without_a_model_path_runs_the_shipped_export(ros_domain_id, tmp_path):
    log_path = tmp_path / "node.log"
    process = start_process([str(POLICY_NODE), "--ros-args", "-p", "runtime:=onnx"], log_path)
    try:
        deadline = time.monotonic() + START_S
        while "loaded" not in log_path.read_text() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        returncode = stop_processes({"policy_node": process})["policy_node"]
    text = log_path.read_text()
    assert returncode == 0, text
    assert f"policy {SHIPPED_EXPORT} loaded (onnx runtime)" in text
