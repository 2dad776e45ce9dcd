"""The record of `lnn-control adapt`: DIR/adapt.json, adapt.md and adapt.png, rewritten after every round."""
from __future__ import annotations

import json
from pathlib import Path

from lnn_control.eval.tables import percent, rate_with_interval


def write_report(out: Path, method: dict, rounds: list[dict]) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "adapt.json", out / "adapt.md", out / "adapt.png"]
    paths[0].write_text(json.dumps({"method": method, "rounds": rounds}, indent=1, allow_nan=False) + "\n")
    paths[1].write_text(_markdown(method, rounds))
    _plot(rounds, paths[2])
    return paths


def _markdown(method: dict, rounds: list[dict]) -> str:
    lines = ["# Learning on the job", "",
             f"`{method['command']}`: from `{method['policy']}`, {method['rounds']} rounds of {method['flights']} "
             f"flights in {method['world']} ({method['condition']}) with a simulated operator who takes over when "
             f"a collision is under {method['rules']['ttc_s']:g} s away or the target has been out of view for "
             f"{method['rules']['lost_s']:g} s (reacting after {method['rules']['reaction_s']:g} s, flying at least "
             f"{method['rules']['hold_s']:g} s); after each round the policy is fine-tuned on every round's "
             f"corrections "
             f"(HG-DAgger: the operator's commands are the labels, the policy's own frames weigh "
             f"{method['policy_weight']:g}; {method['epochs']} epochs, learning rate {method['lr']:g}). Held-out: "
             f"{method['heldout_episodes']} episodes without an operator from world seed {method['first_seed']} on, "
             f"the same every round; episodes end at success, collision or {method['max_seconds']:g} s.", "",
             "| round | held-out success [95% CI] | collisions | flights | takeovers / min | operator flew | "
             "flights reached |", "|---:|---|---:|---:|---:|---:|---:|"]
    for r in rounds:
        flown = r.get("flights")
        lines.append(f"| {r['round']} | {rate_with_interval(r['heldout_success'], r['heldout_ci'])} "
                     f"| {percent(r['heldout_collision'])} | {flown or '-'} "
                     f"| {'-' if r.get('takeovers_per_minute') is None else format(r['takeovers_per_minute'], '.2f')} "
                     f"| {percent(r.get('operator_share'))} | {r.get('flights_reached', '-')} |")
    first, last = rounds[0].get("forest"), rounds[-1].get("forest")
    if first and last and len(rounds) > 1:
        lines += ["", f"Forest without shift (forgetting): {rate_with_interval(first['success'], first['ci'])} before, "
                      f"{rate_with_interval(last['success'], last['ci'])} after round {rounds[-1]['round']} "
                      f"({first['episodes']} episodes each)."]
    return "\n".join(lines) + "\n"


def _plot(rounds: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, left = plt.subplots(figsize=(6, 4), dpi=100)
    xs = [r["round"] for r in rounds]
    success = [r["heldout_success"] for r in rounds]
    low = [r["heldout_success"] - r["heldout_ci"][0] for r in rounds]
    high = [r["heldout_ci"][1] - r["heldout_success"] for r in rounds]
    left.errorbar(xs, success, yerr=[low, high], marker="o", capsize=3, label="held-out success (no operator)")
    left.set_ylim(0, 1.05)
    left.set_xlabel("round")
    left.set_ylabel("success")
    right = left.twinx()
    corrected = [r for r in rounds if r.get("takeovers_per_minute") is not None]
    right.plot([r["round"] for r in corrected], [r["takeovers_per_minute"] for r in corrected], marker="s",
               color="tab:red", label="takeovers per minute")
    right.set_ylabel("takeovers per minute", color="tab:red")
    left.set_xticks(xs)
    left.grid(alpha=0.3)
    handles = left.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    left.legend(handles, [h.get_label() for h in handles], fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
