"""results.png: success rate by condition with 95% interval bars, one colour per policy,
one panel per world; uncertainty.png: the AUROCs of out-of-distribution detection and failure
prediction with their 95% intervals."""
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


def plot_uncertainty(summary: dict, path: str | Path) -> Path:
    """Write the AUROC plot of results.json's `ood_detection` and `failure_prediction` rows to
    `path` (PNG): one bar per world x condition, one colour per policy, chance at 0.5."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("out-of-distribution detection (episode mean vs forest, no shift)", summary.get("ood_detection") or []),
              ("failure prediction (decision, failure within the horizon)", summary.get("failure_prediction") or [])]
    panels = [(title, rows) for title, rows in panels if rows]
    figure, axes = plt.subplots(1, len(panels), squeeze=False, figsize=(6.5 * len(panels), 4.2))
    colours = plt.get_cmap("tab10")
    for axis, (title, rows) in zip(axes[0], panels, strict=True):
        policies = list(dict.fromkeys(r["policy"] for r in rows))
        cells = list(dict.fromkeys(f"{r['world']} {r['condition']}" for r in rows))
        width = 0.8 / len(policies)
        for index, policy in enumerate(policies):
            found = {f"{r['world']} {r['condition']}": r for r in rows if r["policy"] == policy}
            x = np.arange(len(cells)) + (index - (len(policies) - 1) / 2) * width
            value = np.array([_value(found.get(c), "auroc") for c in cells])
            lo = np.array([np.nan if found.get(c) is None or found[c]["auroc_ci"] is None else found[c]["auroc_ci"][0]
                           for c in cells])
            hi = np.array([np.nan if found.get(c) is None or found[c]["auroc_ci"] is None else found[c]["auroc_ci"][1]
                           for c in cells])
            shown = ~np.isnan(value)
            axis.bar(x[shown], value[shown], width, color=colours(index % 10), label=policy, alpha=0.85)
            axis.errorbar(x[shown], value[shown], yerr=[value[shown] - lo[shown], hi[shown] - value[shown]],
                          fmt="none", ecolor="black", elinewidth=1, capsize=3)
        axis.axhline(0.5, color="grey", linestyle=":", label="chance")
        axis.set_ylim(0, 1.05)
        axis.set_ylabel("AUROC (bars: 95% bootstrap interval)")
        axis.set_title(title, fontsize=9)
        axis.set_xticks(np.arange(len(cells)), cells, rotation=30, ha="right", fontsize=8)
        axis.grid(axis="y", alpha=0.3)
        axis.legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
