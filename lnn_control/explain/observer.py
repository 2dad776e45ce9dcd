"""The observer that explains a flight as it is flown: the target's pixels of every frame, a
saliency map of every `every`-th frame with the target in view, scored against them.

For each decision it pushes the observation (what the policy sees, shifts included) into the
saliency methods' frame window, asks the simulator for the target mask of the current view
(`Simulator.target_mask`), and when the target covers some but not all of the image and the frame
is due, makes each method's map and scores it (`attention_auc`, `peak_on_target`), and scores the
centre prior on the same frame (`centre_prior`: the reference a map must beat). With `compare_clean` (a condition
that changes only the image: fog, light, blur, camera noise) it also makes the map of the frame the
camera would have given without the shift, at the same state, and their SSIM. With `record` it
keeps the whole flight (frames, IMU, dt, masks) for the figures.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lnn_control.explain.scores import attention_auc, centre_prior, peak_on_target, structural_similarity
from lnn_control.policy import PolicyNetwork
from lnn_control.policy.saliency import DEFAULT_IG_STEPS, DEFAULT_WINDOW, SaliencyMaker
from lnn_control.rollout import ObserverBase


@dataclass
class ExplainedFrame:
    """One explained decision: its index in the flight, simulated time (s), per method the
    attention AUC and whether the map's peak is on the target, the centre prior's AUC and peak on
    the same frame, and (with a clean comparison) the SSIM of the clean and shifted maps."""

    step: int
    time_s: float
    auc: dict[str, float]
    on_target: dict[str, bool]
    centre_prior_auc: float
    centre_prior_on_target: bool
    ssim_vs_clean: dict[str, float] = field(default_factory=dict)


@dataclass
class FlightRecord:
    """A whole flight as the policy saw it: images uint8 [T, H, W, 3], imu [T, 6], dt [T] (s),
    and the target's pixels in each frame, masks bool [T, H, W]."""

    images: list[np.ndarray] = field(default_factory=list)
    imu: list[np.ndarray] = field(default_factory=list)
    dt: list[float] = field(default_factory=list)
    masks: list[np.ndarray] = field(default_factory=list)


class AttentionObserver(ObserverBase):
    """Explains every `every`-th decision with the target in view (see the module docstring);
    `frames` holds this episode's `ExplainedFrame`s, `flight` the recorded flight (with `record`)."""

    def __init__(self, net: PolicyNetwork, methods: tuple[str, ...], every: int = 5, compare_clean: bool = False,
                 record: bool = False, window: int = DEFAULT_WINDOW, ig_steps: int = DEFAULT_IG_STEPS):
        if every < 1:
            raise ValueError(f"--every must be at least 1 frame, got {every}")
        self.every = every
        self.record = record
        self.shifted = SaliencyMaker(net, methods, window, ig_steps)
        self.clean = SaliencyMaker(net, methods, window, ig_steps) if compare_clean else None
        self.frames: list[ExplainedFrame] = []
        self.flight = FlightRecord()
        self._step = 0
        self._visible = 0

    def started(self, env, observation: dict, info: dict, seed: int) -> None:
        self.frames, self.flight = [], FlightRecord()
        self._step = self._visible = 0
        for maker in (self.shifted, self.clean):
            if maker is not None:
                maker.reset()

    def observed(self, env, observation: dict, info: dict) -> None:
        sim = env.unwrapped.sim
        image, imu, dt = observation["image"], observation["imu"], float(observation["dt"][0])
        mask = sim.target_mask()
        self.shifted.push(image, imu, dt)
        if self.clean is not None:
            self.clean.push(sim.render_camera(), imu, dt)
        if self.record:
            for store, value in zip((self.flight.images, self.flight.imu, self.flight.dt, self.flight.masks),
                                    (image, np.asarray(imu, np.float32), dt, mask), strict=True):
                store.append(value)
        self._step += 1
        if not 0 < mask.sum() < mask.size:
            return
        self._visible += 1
        if (self._visible - 1) % self.every:
            return
        maps = self.shifted.maps()
        prior = centre_prior(*mask.shape)
        frame = ExplainedFrame(self._step - 1, float(info["sim_time"]),
                               {m: attention_auc(saliency, mask) for m, saliency in maps.items()},
                               {m: peak_on_target(saliency, mask) for m, saliency in maps.items()},
                               attention_auc(prior, mask), peak_on_target(prior, mask))
        if self.clean is not None:
            clean_maps = self.clean.maps()
            frame.ssim_vs_clean = {m: structural_similarity(clean_maps[m], saliency) for m, saliency in maps.items()}
        self.frames.append(frame)
