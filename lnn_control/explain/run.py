"""An explain run: every policy flies the same seeds of one world under every condition while
`AttentionObserver` scores its attention; then the report and the figures.

```python
summary = explain(ExplainRun(policies=..., world=WorldSource.parse("forest"),
                             conditions=parse_conditions(["fog:0.5"], []), episodes=5, ...))
```
Writes OUT/attention.json and attention.md (`report`), attention.png, wiring.png and
neurons.png (`figures`). Episodes are flown by `rollout.fly` with each checkpoint's own policy.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from lnn_control.envs import make_env
from lnn_control.envs.shifts import SHIFTS, Condition, ImageShift, Stage
from lnn_control.eval.plan import PolicySource, WorldSource, plan_vehicle
from lnn_control.explain.figures import GridCell, plot_attention_grid, plot_neurons, plot_wiring
from lnn_control.explain.observer import AttentionObserver, FlightRecord
from lnn_control.explain.report import episode_row, success_prediction, summary_rows, write_report
from lnn_control.explain.scores import POINTING_TOLERANCE_PX
from lnn_control.policy import CheckpointError, Policy, PolicyNetwork, load_checkpoint
from lnn_control.policy.neurons import trace_neurons
from lnn_control.policy.saliency import DEFAULT_IG_STEPS, DEFAULT_WINDOW, METHODS, SaliencyMaker
from lnn_control.rollout import PolicyPilot, fly

IMAGE_STAGES = (Stage.ATMOSPHERE, Stage.ILLUMINATION, Stage.OPTICS)
GRID_FRAMES = 4


@dataclass(frozen=True)
class ExplainRun:
    """What to explain and how: checkpoints x conditions x `episodes` seeds from `first_seed` in
    one world; `methods` from saliency.METHODS; a map for every `every`-th frame with the target in
    view; IG over `window` frames with `ig_steps` points; `time_limit_s` simulated s per episode
    (None: the world's own); `torch_threads`: torch's intra-op threads (one is fastest for these
    small networks, and far faster than more on a busy machine)."""

    policies: tuple[PolicySource, ...]
    world: WorldSource
    conditions: tuple[Condition, ...]
    episodes: int
    first_seed: int
    methods: tuple[str, ...]
    out_dir: Path
    every: int = 5
    window: int = DEFAULT_WINDOW
    ig_steps: int = DEFAULT_IG_STEPS
    time_limit_s: float | None = None
    torch_threads: int = 1
    command: str = "lnn-control explain"

    def __post_init__(self):
        if self.episodes < 1:
            raise ValueError(f"--episodes must be at least 1, got {self.episodes}")
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown or not self.methods:
            raise ValueError(f"--method {unknown[0] if unknown else '(none)'!r} is not one of {', '.join(METHODS)}")
        not_checkpoints = [p.label for p in self.policies if p.kind != "checkpoint"]
        if not_checkpoints:
            raise ValueError(f"--policy {not_checkpoints[0]!r}: only a checkpoint has attention to explain")
        labels = [p.label for p in self.policies]
        twice = sorted({label for label in labels if labels.count(label) > 1})
        if twice:
            raise ValueError(f"two --policy files are both named {twice[0]!r}; rename one")
        if self.every < 1 or self.window < 1 or self.ig_steps < 2:
            raise ValueError(f"need --every >= 1, --ig-window >= 1 and --ig-steps >= 2, got {self.every}, "
                             f"{self.window}, {self.ig_steps}")
        if self.time_limit_s is not None and not self.time_limit_s > 0:
            raise ValueError(f"--time-limit must be a positive number of seconds, got {self.time_limit_s}")

    @property
    def seeds(self) -> range:
        return range(self.first_seed, self.first_seed + self.episodes)


def changes_only_the_image(condition: Condition) -> bool:
    """Whether every shift of `condition` acts on the camera image alone (so the unshifted frame
    of the same state exists: the simulator's own render)."""
    return bool(condition.shifts) and all(issubclass(SHIFTS[name], ImageShift) or SHIFTS[name].stage in IMAGE_STAGES
                                          for name, _ in condition.shifts)


def explain(run: ExplainRun) -> dict:
    """Fly and explain every episode of `run`, write the report and figures; the summary."""
    torch.set_num_threads(run.torch_threads)
    nets = _load(run.policies)
    vehicle = plan_vehicle(run.policies, None)
    first_cfc = next((label for label, net in nets.items() if _wired_cfc(net)), None)
    started = time.perf_counter()
    frames, episodes, flights = {}, [], {}
    total = len(run.conditions) * len(nets) * run.episodes
    with tqdm(total=total, desc="explained episodes", unit="ep", dynamic_ncols=True) as progress:
        for condition in run.conditions:
            env = make_env(run.world.spec, shifts=list(condition.shifts), time_limit_s=run.time_limit_s,
                           vehicle=vehicle)
            try:
                for index, (label, net) in enumerate(nets.items()):
                    observer = AttentionObserver(net, run.methods, run.every, changes_only_the_image(condition),
                                                 window=run.window, ig_steps=run.ig_steps)
                    for episode, seed in enumerate(run.seeds):
                        observer.record = episode == 0 and (index == 0 or label == first_cfc)
                        outcome = fly(env, PolicyPilot(Policy(net)), seed, observers=[observer])
                        frames[(label, condition.name, seed)] = observer.frames
                        episodes.append(episode_row(label, run.world.label, condition.name, seed, outcome,
                                                    observer.frames, run.methods))
                        if observer.record:
                            flights[(label, condition.name)] = observer.flight
                        progress.update()
            finally:
                env.close()
    summary = {"rows": summary_rows(run, frames, episodes), "episodes": episodes,
               "success_prediction": success_prediction(episodes, run.methods)}
    method = _method(run, time.perf_counter() - started)
    out = Path(run.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_report(out, summary, method)
    labels = list(nets)
    plot_attention_grid(_grid(run, nets, flights, labels[0]), labels, run.methods, out / "attention.png")
    plot_wiring(nets[first_cfc] if first_cfc else None, first_cfc, out / "wiring.png")
    flight = flights.get((first_cfc, run.conditions[0].name)) if first_cfc else None
    trace = trace_neurons(nets[first_cfc], *_arrays(flight)) if flight and flight.images else None
    plot_neurons(trace, f"{first_cfc}, {run.world.label}, {run.conditions[0].name}, seed {run.first_seed}"
                 if trace else None, out / "neurons.png")
    return summary


def _load(policies: tuple[PolicySource, ...]) -> dict[str, PolicyNetwork]:
    nets = {}
    for source in policies:
        try:
            nets[source.label] = load_checkpoint(source.path)[0]
        except CheckpointError as error:
            raise ValueError(str(error)) from None
    return nets


def _wired_cfc(net: PolicyNetwork) -> bool:
    return net.spec.kind == "cfc" and net.spec.wiring == "ncp"


def _arrays(flight: FlightRecord) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.stack(flight.images), np.stack(flight.imu), np.array(flight.dt, np.float32)


def _grid(run: ExplainRun, nets: dict[str, PolicyNetwork], flights: dict, reference: str) -> list[GridCell]:
    """Up to GRID_FRAMES frames per condition, spread over the reference policy's first flight
    among those with the target in view, with every policy's maps of them (the flight replayed
    through each policy: open loop for all but the reference)."""
    cells = []
    for condition in run.conditions:
        flight = flights[(reference, condition.name)]
        visible = [i for i, mask in enumerate(flight.masks) if 0 < mask.sum() < mask.size]
        if not visible:
            continue
        chosen = sorted({visible[int(round(k))] for k in np.linspace(0, len(visible) - 1, GRID_FRAMES)})
        maps = {step: {} for step in chosen}
        for label, net in nets.items():
            maker = SaliencyMaker(net, run.methods, run.window, run.ig_steps)
            for step in range(chosen[-1] + 1):
                maker.push(flight.images[step], flight.imu[step], flight.dt[step])
                if step in maps:
                    maps[step].update({(label, method): saliency for method, saliency in maker.maps().items()})
        cells += [GridCell(condition.name, step, flight.images[step], flight.masks[step], maps[step])
                  for step in chosen]
    return cells


def _method(run: ExplainRun, wall_s: float) -> dict:
    return {"command": run.command, "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "world": run.world.label,
            "seeds": list(run.seeds), "methods": list(run.methods), "every": run.every, "ig_window": run.window,
            "ig_steps": run.ig_steps, "time_limit_s": run.time_limit_s, "wall_s": wall_s,
            "policies": [p.to_dict() for p in run.policies],
            "attention_auc": "ROC AUC of the map as a detector of the target's pixels (PyBullet segmentation "
                             "mask), per explained frame; the row's value is the mean over its frames",
            "interval": "95% percentile bootstrap over episodes (2000 resamples of whole episodes; frames of "
                        "one flight are not independent); null with fewer than two episodes with frames",
            "peak_on_target": f"the share of explained frames whose map peaks on the target's pixels (within "
                              f"{POINTING_TOLERANCE_PX} px; the pointing game)",
            "ssim_vs_clean": "mean SSIM between the map of the shifted frame and of the unshifted frame of the "
                             "same state, where the condition changes only the image"}
