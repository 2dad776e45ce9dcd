"""The figures of an explain run (PNG, matplotlib, files only):

- attention.png: a grid, one column per chosen camera frame (the target's outline in white), one
  row per policy and saliency method with that map over the frame;
- wiring.png: the NCP of a wired CfC — sensory inputs (image features, IMU features, timespan),
  inter, command and motor neurons in columns — from ncps' own graph (`Wiring.get_graph`);
  each synapse coloured by the sign of its learned weight (green excitatory, red inhibitory, as
  ncps draws polarity) and as wide as its magnitude. The weight is the CfC's `ff1` weight of the
  synapse: a CfC learns its signs and ignores the polarity the wiring declares (it takes |mask|);
- neurons.png: every neuron's state and its effective time constant (s, log scale) over one
  flight, one row per neuron labelled by role and ncps id, grouped inter, command, motor.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lnn_control.policy import PolicyNetwork
from lnn_control.policy.neurons import NeuronTrace, neuron_layout, wiring_of
from lnn_control.policy.saliency import overlay

ROLE_COLOURS = {"sensory": "tab:olive", "inter": "tab:blue", "command": "tab:purple", "motor": "tab:orange"}


@dataclass(frozen=True)
class GridCell:
    """One column of attention.png: a frame of a flight under `condition` (decision `step`), the
    target's pixels in it, and each (policy, method)'s map of it."""

    condition: str
    step: int
    image: np.ndarray
    mask: np.ndarray
    maps: dict[tuple[str, str], np.ndarray]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_attention_grid(cells: list[GridCell], policies: list[str], methods: tuple[str, ...], path: Path) -> Path:
    plt = _pyplot()
    rows = [(policy, method) for policy in policies for method in methods]
    columns = max(1, len(cells))
    figure, axes = plt.subplots(len(rows) + 1, columns, squeeze=False,
                                figsize=(1.9 * columns + 0.9, 1.55 * (len(rows) + 1) + 0.6))
    for axis in axes.flat:
        axis.set_xticks([])
        axis.set_yticks([])
    if not cells:
        axes[0, 0].text(0.5, 0.5, "no frame with the target in view", ha="center", va="center", fontsize=8)
    for column, cell in enumerate(cells):
        axes[0, column].imshow(cell.image)
        axes[0, column].contour(cell.mask, levels=[0.5], colors="white", linewidths=0.8)
        axes[0, column].set_title(f"{cell.condition}\nstep {cell.step}", fontsize=7)
        for row, key in enumerate(rows, start=1):
            axes[row, column].imshow(overlay(cell.image, cell.maps[key], alpha=0.6))
            axes[row, column].contour(cell.mask, levels=[0.5], colors="white", linewidths=0.6)
    axes[0, 0].set_ylabel("camera", fontsize=7)
    for row, (policy, method) in enumerate(rows, start=1):
        axes[row, 0].set_ylabel(f"{policy}\n{method}", fontsize=7)
    figure.suptitle("saliency on the first policy's first flight (the others replayed open loop); white: the target",
                    fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=130)
    plt.close(figure)
    return path


def plot_wiring(net: PolicyNetwork | None, label: str | None, path: Path) -> Path:
    """wiring.png of `net` (a wired CfC), or a figure saying no policy has one."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(9, 6.5))
    axis.set_axis_off()
    if net is None:
        axis.text(0.5, 0.5, "no NCP-wired CfC among the policies: no wiring to draw", ha="center", va="center")
        figure.savefig(path, dpi=110)
        plt.close(figure)
        return path
    import networkx as nx

    wiring = wiring_of(net)
    graph = wiring.get_graph()
    weights = _synapse_weights(net)
    positions = _layered_positions(net, graph)
    widths = np.array([abs(weights.get(edge, 0.0)) for edge in graph.edges])
    scale = 2.5 / max(float(widths.max()), 1e-9) if widths.size else 1.0
    for polarity, colour in ((1, "tab:green"), (-1, "tab:red")):
        edges = [e for e in graph.edges if np.sign(weights.get(e, 0.0)) == polarity]
        nx.draw_networkx_edges(graph, positions, edgelist=edges, edge_color=colour, alpha=0.6, arrowsize=6,
                               width=[0.2 + scale * abs(weights[e]) for e in edges], ax=axis)
    for role, colour in ROLE_COLOURS.items():
        nodes = [n for n, data in graph.nodes(data=True) if data["neuron_type"] == role]
        nx.draw_networkx_nodes(graph, positions, nodelist=nodes, node_color=colour, node_size=90, ax=axis,
                               label=f"{role} ({len(nodes)})")
    spec = net.spec
    axis.legend(loc="lower right", fontsize=7, frameon=False)
    axis.set_title(f"{label}: NCP wiring ({spec.units} neurons, {spec.core_input_size} inputs: "
                   f"{spec.image_features} image features, {spec.imu_features} IMU features, the timespan)\n"
                   "synapse colour: sign of the learned weight (green +, red -), width: its magnitude",
                   fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=130)
    plt.close(figure)
    return path


def _synapse_weights(net: PolicyNetwork) -> dict[tuple[str, str], float]:
    """(source node, target node) in ncps' graph names -> the learned ff1 weight of that synapse."""
    wiring = wiring_of(net)
    cell = net.core.cfc.rnn_cell
    weights = {}
    sources = [f"sensory_{i}" for i in range(wiring.input_dim)]
    for layer_index, layer in enumerate(cell.layers):
        targets = [int(i) for i in wiring.get_neurons_of_layer(layer_index)]
        weight = layer.ff1.weight.detach().numpy()   # [targets, sources + targets]
        mask = layer.sparsity_mask.detach().numpy()
        for t, target in enumerate(targets):
            for s, source in enumerate(sources):
                if mask[t, s]:
                    weights[(source, f"neuron_{target}")] = float(weight[t, s])
        sources = [f"neuron_{i}" for i in targets]
    return weights


def _layered_positions(net: PolicyNetwork, graph) -> dict[str, tuple[float, float]]:
    """Sensory inputs, then inter, command, motor neurons, each a column, spread top to bottom."""
    layout = neuron_layout(net)
    columns = {"sensory": [n for n, d in graph.nodes(data=True) if d["neuron_type"] == "sensory"]}
    for role in ("inter", "command", "motor"):
        columns[role] = [f"neuron_{i}" for i, r in zip(layout.neuron_ids, layout.roles, strict=True) if r == role]
    positions = {}
    for x, nodes in enumerate(columns.values()):
        for k, node in enumerate(nodes):
            positions[node] = (float(x), 1.0 - (k + 0.5) / len(nodes))
    return positions


def plot_neurons(trace: NeuronTrace | None, title: str | None, path: Path) -> Path:
    """neurons.png of `trace`, or a figure saying there is none (no wired CfC, or no flight)."""
    plt = _pyplot()
    if trace is None:
        figure, axis = plt.subplots(figsize=(7, 2))
        axis.set_axis_off()
        axis.text(0.5, 0.5, "no NCP-wired CfC among the policies: no neurons to show", ha="center", va="center")
        figure.savefig(path, dpi=110)
        plt.close(figure)
        return path
    labels = trace.layout.labels
    figure, axes = plt.subplots(1, 2, figsize=(12, 0.28 * len(labels) + 1.6), sharey=True)
    extent = (float(trace.times_s[0]), float(trace.times_s[-1]) + 1e-9, len(labels) - 0.5, -0.5)
    state = axes[0].imshow(trace.state.T, aspect="auto", cmap="coolwarm", vmin=-1, vmax=1, extent=extent,
                           interpolation="nearest")
    tau = axes[1].imshow(np.log10(trace.time_constant_s.T), aspect="auto", cmap="viridis", extent=extent,
                         interpolation="nearest")
    figure.colorbar(state, ax=axes[0], label="state")
    figure.colorbar(tau, ax=axes[1], label="log10 effective time constant (s)")
    axes[0].set_yticks(range(len(labels)), labels, fontsize=7)
    for tick, role in zip(axes[0].get_yticklabels(), trace.layout.roles, strict=True):
        tick.set_color(ROLE_COLOURS[role])
    for axis, what in zip(axes, ("state", "effective time constant"), strict=True):
        axis.set_xlabel("time (s)")
        axis.set_title(what, fontsize=9)
    figure.suptitle(f"neurons of {title} (rows in the CfC's state order: inter, command, motor; ncps ids)",
                    fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
