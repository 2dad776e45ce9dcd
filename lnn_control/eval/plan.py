"""The plan of an evaluation run: which policies fly which worlds under which conditions, on
which seeds — and the list of episodes that makes it.

Every policy flies the same seeds (episode i of every policy, world and condition uses world
seed `first_seed + i`), so comparisons between policies are paired. The expert's path on
each seed is the yardstick for path length; when `expert` is not one of the policies it is
flown as a reference (its episodes are logged, but it gets no row of its own), unless the plan
says `reference=False` (`lnn-control eval --no-reference`: path lengths are then not compared).
"""
from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from lnn_control.envs.shifts import Condition, load_suite, parse_shift
from lnn_control.paths import share_path
from lnn_control.policy import read_header
from lnn_control.policy.digest import file_sha256

BUILTIN_POLICIES = ("expert", "random")
NO_SHIFT = Condition("none", ())
REFERENCE = "expert"
SLOWED_SUFFIX = "+slow_down"


@dataclass(frozen=True)
class PolicySource:
    """A policy to fly: `kind` "expert", "random" or "checkpoint" (then `path` and its `sha256`).
    `label` names it in tables: the builtin name, or the checkpoint's file stem. `slow_down`:
    (low, stop) of the slow-down curve (`policy.slow_down`) to fly an ensemble with, or None."""

    label: str
    kind: str
    path: str | None = None
    sha256: str | None = None
    slow_down: tuple[float, float] | None = None

    @classmethod
    def parse(cls, text: str) -> PolicySource:
        if text in BUILTIN_POLICIES:
            return cls(label=text, kind=text)
        path = Path(text).expanduser().resolve()
        if not path.is_file():
            raise FileNotFoundError(f"policy {text!r} is neither {' nor '.join(BUILTIN_POLICIES)} "
                                    f"nor a checkpoint file ({path} not found)")
        return cls(label=path.stem, kind="checkpoint", path=str(path), sha256=file_sha256(path))

    def slowed(self, low: float, stop: float) -> PolicySource:
        """This checkpoint flown with the slow-down curve (low, stop), labelled LABEL+slow_down."""
        return replace(self, label=f"{self.label}{SLOWED_SUFFIX}", slow_down=(float(low), float(stop)))

    def to_dict(self) -> dict:
        found = {"label": self.label, "kind": self.kind, "path": self.path, "sha256": self.sha256}
        return {**found, "slow_down": list(self.slow_down)} if self.slow_down is not None else found

    def identity(self) -> dict:
        """What makes it the same policy for `--resume`: all but the path (a checkpoint is its
        sha256, wherever it lies: a run moved to another folder or machine resumes)."""
        return {key: value for key, value in self.to_dict().items() if key != "path"}


@dataclass(frozen=True)
class WorldSource:
    """A world: `spec` is what `make_env` takes ("forest", "urban" or an absolute YAML path);
    `label` names it in tables."""

    label: str
    spec: str

    @classmethod
    def parse(cls, text: str) -> WorldSource:
        shipped = shipped_worlds()
        if text in shipped:
            return cls(label=text, spec=text)
        path = Path(text).expanduser().resolve()
        if path.suffix not in (".yaml", ".yml") or not path.is_file():
            raise FileNotFoundError(f"world {text!r} is neither a shipped world ({', '.join(shipped)}) "
                                    f"nor a world YAML file ({path} not found)")
        return cls(label=path.stem, spec=str(path))


def shipped_worlds() -> list[str]:
    """The worlds in the package's sim_worlds/ folder, by name (forest, urban, ...)."""
    return sorted(p.stem for p in share_path("sim_worlds").glob("*.yaml"))


@dataclass(frozen=True)
class EpisodeJob:
    """One episode to fly. `video`: also film it (chase view beside the drone's camera)."""

    policy: str
    world: str
    world_spec: str
    condition: Condition
    episode: int
    seed: int
    video: bool = False

    @property
    def key(self) -> tuple[str, str, str, int]:
        return self.policy, self.world, self.condition.name, self.episode


@dataclass(frozen=True)
class EvalPlan:
    """Policies x worlds x conditions x `episodes` seeds, starting at `first_seed`, all driving
    `vehicle` (`lnn_control.vehicles`); `reference`: fly the expert too when it is not among the
    policies (the path-length yardstick)."""

    policies: tuple[PolicySource, ...]
    worlds: tuple[WorldSource, ...]
    conditions: tuple[Condition, ...]
    episodes: int
    first_seed: int
    vehicle: str = "drone"
    reference: bool = True

    def __post_init__(self):
        if self.episodes < 1:
            raise ValueError(f"--episodes must be at least 1, got {self.episodes}")
        for what, labels in (("policy", [p.label for p in self.policies]), ("world", [w.label for w in self.worlds]),
                             ("condition", [c.name for c in self.conditions])):
            duplicates = sorted({label for label in labels if labels.count(label) > 1})
            if duplicates:
                raise ValueError(f"two {what} entries are both named {duplicates[0]!r}; rename one")

    @property
    def seeds(self) -> range:
        return range(self.first_seed, self.first_seed + self.episodes)

    @property
    def flown_policies(self) -> tuple[PolicySource, ...]:
        """The policies flown: the requested ones, plus the expert as the path-length reference
        (unless `reference` is off)."""
        if not self.reference or any(p.label == REFERENCE for p in self.policies):
            return self.policies
        return self.policies + (PolicySource(label=REFERENCE, kind="expert"),)

    def jobs(self, video_conditions: Collection[str] = ()) -> list[EpisodeJob]:
        """Every episode, episode index outermost (an interrupted run has even coverage). The
        first requested policy's first episode of each world x condition in `video_conditions`
        is filmed."""
        filmed = self.policies[0].label
        return [EpisodeJob(policy=policy.label, world=world.label, world_spec=world.spec, condition=condition,
                           episode=index, seed=seed,
                           video=index == 0 and policy.label == filmed and condition.name in video_conditions)
                for index, seed in enumerate(self.seeds)
                for world in self.worlds
                for condition in self.conditions
                for policy in self.flown_policies]

    def identity(self) -> dict:
        """What must match for `--resume` to continue this run (everything but the episode count)."""
        return {"policies": [p.identity() for p in self.flown_policies],
                "worlds": [{"label": w.label, "spec": w.spec} for w in self.worlds],
                "conditions": [{"name": c.name, "shifts": [list(s) for s in c.shifts]} for c in self.conditions],
                "first_seed": self.first_seed, "vehicle": self.vehicle}


def parse_conditions(shifts: Sequence[str], suites: Sequence[str]) -> tuple[Condition, ...]:
    """No shift first, then one condition per `--shift NAME[:SEVERITY]`, then each suite's
    conditions (`--suite FILE[:NAME]`, NAME defaulting to "standard"). Repeats are merged;
    two different conditions under one name are an error."""
    conditions = [NO_SHIFT]
    for text in shifts:
        name, severity = parse_shift(text)
        conditions.append(Condition(f"{name}:{severity:g}", ((name, severity),)))
    for text in suites:
        path, suite = _split_suite(str(text))
        conditions.extend(load_suite(path, suite))
    merged: dict[str, Condition] = {}
    for condition in conditions:
        earlier = merged.setdefault(condition.name, condition)
        if sorted(earlier.shifts) != sorted(condition.shifts):
            raise ValueError(f"condition {condition.name!r} is given twice with different shifts: "
                             f"{list(earlier.shifts)} and {list(condition.shifts)}")
    return tuple(merged.values())


def _split_suite(text: str) -> tuple[Path, str]:
    """'FILE[:NAME]' -> (file, name); a FILE not found here is looked for in the share's config/."""
    path, name = (text.rsplit(":", 1) if ":" in text and not Path(text).is_file() else (text, "standard"))
    path = Path(path).expanduser()
    if not path.is_file() and not path.is_absolute() and share_path("config", path.name).is_file():
        path = share_path("config", path.name)
    return path, name or "standard"


def plan_vehicle(policies: tuple[PolicySource, ...], requested: str | None) -> str:
    """The vehicle `policies` are flown on: the checkpoints' (`PolicySpec.vehicle`; they must
    agree, and agree with `requested` if given), else `requested`, else a drone. ValueError
    naming the policies otherwise."""
    drives = {read_header(p.path)["spec"].get("vehicle", "drone"): p.label for p in policies if p.kind == "checkpoint"}
    if len(drives) > 1:
        raise ValueError("the --policy checkpoints drive different vehicles: "
                         + ", ".join(f"{label} a {vehicle}" for vehicle, label in drives.items()))
    if requested is not None and drives and requested not in drives:
        vehicle, label = next(iter(drives.items()))
        raise ValueError(f"--vehicle {requested}: policy {label} drives a {vehicle}")
    return next(iter(drives), requested or "drone")
