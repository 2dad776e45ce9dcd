"""results.png: success rate by condition with 95% interval bars, one colour per policy,
one panel per world."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def plot_success(rows: list[dict], path: str | Path) -> Path:
    """Write the success plot of results.json `rows` to `path` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    policies = list(dict.fromkeys(r["policy"] for r in rows))
    worlds = list(dict.fromkeys(r["world"] for r in rows))
    conditions = list(dict.fromkeys(r["condition"] for r in rows))
    colours = plt.get_cmap("tab10")
    width = 0.8 / max(1, len(policies))
    figure_width_in = max(6.0, 1.1 * len(conditions) * max(1, len(policies)) ** 0.5 + 2)
    figure, axes = plt.subplots(len(worlds), 1, squeeze=False, sharex=True,
                                figsize=(figure_width_in, 2.8 * len(worlds) + 0.8))
    for axis, world in zip(axes[:, 0], worlds, strict=True):
        for index, policy in enumerate(policies):
            cells = {r["condition"]: r for r in rows if r["world"] == world and r["policy"] == policy}
            x = np.arange(len(conditions)) + (index - (len(policies) - 1) / 2) * width
            rate = np.array([_value(cells.get(c), "success_rate") for c in conditions])
            lo = np.array([_bound(cells.get(c), 0) for c in conditions])
            hi = np.array([_bound(cells.get(c), 1) for c in conditions])
            shown = ~np.isnan(rate)
            axis.bar(x[shown], rate[shown], width, color=colours(index % 10), label=policy, alpha=0.85)
            axis.errorbar(x[shown], rate[shown], yerr=[rate[shown] - lo[shown], hi[shown] - rate[shown]],
                          fmt="none", ecolor="black", elinewidth=1, capsize=3)
        axis.set_ylim(0, 1.05)
        axis.set_ylabel("success rate")
        episodes = sorted({r["episodes"] for r in rows if r["world"] == world})
        axis.set_title(f"{world} (episodes per bar: {', '.join(map(str, episodes))}; bars: 95% Wilson interval)",
                       fontsize=9)
        axis.grid(axis="y", alpha=0.3)
    axes[-1, 0].set_xticks(np.arange(len(conditions)), conditions, rotation=30, ha="right")
    axes[0, 0].legend(title="policy", fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def _value(row, key) -> float:
    return np.nan if row is None or row[key] is None else float(row[key])


def _bound(row, which: int) -> float:
    return np.nan if row is None else float(row["success_ci"][which])
