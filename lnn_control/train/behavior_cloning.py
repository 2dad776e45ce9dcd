"""Behaviour cloning over sequences with truncated backpropagation through time.

Each training window (`data.sequence_length` frames) runs through the network in chunks of
`optim.tbptt_steps` frames; after each chunk the loss is back-propagated, the gradient norm
clipped and AdamW steps, and the recurrent state is carried on, detached, into the next chunk.
The loss is the mean squared error of commands divided by the command limits (targets are
clipped to the limits first, since the network's output cannot exceed them), over real
(unpadded) frames. The learning rate warms up linearly and then follows a cosine decay.

Bags are split into training and validation bags (never frames of one bag on both sides); the
checkpoint at the best validation loss is kept (the training loss decides when there is only
one bag), training stops early after `optim.patience` epochs without improvement, and a CSV
log and a loss-curve PNG are written next to the checkpoint. The next batch is read and
augmented on a background thread while the current one trains.

An ensemble (`PolicySpec.ensemble` = K > 1) is trained as one network: every member's command
is fitted, and member k's error on window w weighs b[w, k] ~ Poisson(1), drawn once per
training call from the seed — each member sees its own bootstrap resample of the windows
(Poisson(1) counts approximate drawing the windows with replacement) without copying any data.
The loss is the weighted mean over members and real frames; the shared encoder learns from all
members. Validation judges the ensemble's command, the members' mean.
"""
from __future__ import annotations

import csv
import itertools
import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from lnn_control.data import BagData, SequenceWindows, imu_statistics
from lnn_control.policy import PolicyNetwork, PolicySpec, build_network, save_checkpoint
from lnn_control.train.augment import augment_batch
from lnn_control.train.config import TrainConfig
from lnn_control.train.distributed import DistContext, all_reduce_sum


@dataclass
class TrainResult:
    checkpoint: Path
    log_csv: Path
    curve_png: Path
    best_epoch: int
    best_loss: float
    epochs_run: int
    history: list[dict] = field(default_factory=list)
    net: PolicyNetwork | None = None  # the best weights
    bags: int = 0
    frames: int = 0


def artifact_paths(checkpoint: Path) -> tuple[Path, Path]:
    """(CSV log, loss-curve PNG) next to `checkpoint`: NAME.train.csv, NAME.loss.png."""
    return checkpoint.with_name(checkpoint.stem + ".train.csv"), checkpoint.with_name(checkpoint.stem + ".loss.png")


def split_by_bag(bags: list[BagData], val_fraction: float, seed: int) -> tuple[list[BagData], list[BagData]]:
    """(training bags, validation bags): a seeded shuffle, `val_fraction` of the bags (at least
    one when there are two or more and the fraction is > 0) held out whole."""
    if len(bags) < 2 or val_fraction <= 0:
        return list(bags), []
    order = np.random.default_rng(seed).permutation(len(bags))
    n_val = min(len(bags) - 1, max(1, int(round(val_fraction * len(bags)))))
    val = sorted(order[:n_val].tolist())
    return [b for i, b in enumerate(bags) if i not in val], [bags[i] for i in val]


def train_policy(bags: list[BagData], spec: PolicySpec, config: TrainConfig, out, *, epochs: int | None = None,
                 initial_state: dict | None = None, provenance: dict | None = None, ctx: DistContext = DistContext(),
                 progress: bool = True, previous_history: list[dict] | None = None, stage: int = 0,
                 keep_normalization: bool = False, freeze_encoder: bool = False) -> TrainResult:
    """Train a `spec` policy on `bags`, write the best checkpoint to `out`; see the module docstring.
    `initial_state`: a state_dict to start from (a fine-tuning's parent; DAgger rounds continue
    from the last policy); `keep_normalization`: keep the IMU normalisation of `initial_state`
    instead of computing it from `bags`; `freeze_encoder`: the image encoder's weights are not
    trained; `previous_history`: log rows of earlier stages (DAgger rounds), continued in the
    CSV and plot, this call's rows tagged with `stage`."""
    out = Path(out)
    optim = config.optim
    epochs = epochs or optim.epochs
    torch.manual_seed(config.seed)
    train_bags, val_bags = split_by_bag(bags, config.data.val_fraction, config.seed)
    train = SequenceWindows([s for b in train_bags for s in b.sequences], config.data.sequence_length,
                            config.data.stride)
    val = SequenceWindows([s for b in val_bags for s in b.sequences], config.data.sequence_length,
                          config.data.sequence_length)

    net = build_network(spec).to(ctx.device)
    if initial_state is not None:
        net.load_state_dict(initial_state)
    else:
        _start_at_mean_command(net, train.sequences)
    if keep_normalization and initial_state is not None:
        imu_std = net.imu_encoder.std.detach().cpu().numpy()
    else:
        imu_mean, imu_std = imu_statistics(train.sequences)
        net.set_imu_normalization(imu_mean, imu_std)
    net.image_encoder.requires_grad_(not freeze_encoder)
    model = DistributedDataParallel(net) if ctx.distributed else net
    optimizer = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=optim.lr,
                                  weight_decay=optim.weight_decay)
    windows_per_rank = math.ceil(len(train) / ctx.world_size)
    batches_per_epoch = math.ceil(windows_per_rank / optim.batch_size)
    chunks = math.ceil(config.data.sequence_length / optim.tbptt_steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, _warmup_cosine(optim.warmup_epochs * batches_per_epoch * chunks,
                                  epochs * batches_per_epoch * chunks, optim.lr_min_ratio))

    log_csv, curve_png = artifact_paths(out)
    history: list[dict] = list(previous_history or [])
    first_epoch = history[-1]["epoch"] if history else 0
    best_loss, best_epoch, stale = math.inf, 0, 0
    best_state = None
    generator = torch.Generator().manual_seed(config.seed * 1000 + ctx.rank)
    member_weights = bootstrap_weights(len(train), net.ensemble_size, config.seed)
    imu_std_t = torch.as_tensor(imu_std)
    encoder_dtype = encoder_autocast(optim.encoder_precision, ctx.device)
    for epoch in range(1, epochs + 1):
        started = time.perf_counter()
        order = np.random.default_rng([config.seed, epoch]).permutation(len(train))
        order = np.resize(order, windows_per_rank * ctx.world_size)[ctx.rank::ctx.world_size]  # equal shards
        model.train()
        loss_sum, weight_sum, frames = 0.0, 0.0, 0.0
        batches = _augmented_batches(train, order, optim.batch_size, batches_per_epoch, member_weights,
                                     lambda batch: augment_batch(batch, config.augment, imu_std_t, generator))
        bar = tqdm(batches, total=batches_per_epoch, desc=f"epoch {epoch}/{epochs}", leave=False,
                   disable=None if progress and ctx.is_main else True, unit="batch")
        net.encoder_autocast = encoder_dtype
        for batch in bar:
            batch = {k: v.to(ctx.device) for k, v in batch.items()}
            batch_loss, batch_weight, batch_frames = _tbptt_step(model, net, batch, optimizer, scheduler, optim)
            loss_sum += batch_loss
            weight_sum += batch_weight
            frames += batch_frames
            bar.set_postfix(loss=f"{batch_loss / max(batch_weight, 1e-9):.4f}")
        net.encoder_autocast = None
        loss_sum, weight_sum, frames = all_reduce_sum([loss_sum, weight_sum, frames], ctx)
        train_loss = loss_sum / max(weight_sum, 1e-9)
        val_loss = _validate(net, val, ctx, optim.batch_size) if len(val) else math.nan
        seconds = time.perf_counter() - started
        judged = val_loss if len(val) else train_loss
        row = {"stage": stage, "epoch": first_epoch + epoch, "train_loss": train_loss, "val_loss": val_loss,
               "lr": scheduler.get_last_lr()[0], "seconds": seconds, "train_frames_per_s": frames / seconds}
        history.append(row)
        if judged < best_loss:
            best_loss, best_epoch, stale = judged, first_epoch + epoch, 0
            best_state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
            header = _training_header(config, spec, epochs, best_epoch, best_loss, train_bags, val_bags, ctx)
            header["start"] = {"from": "scratch" if initial_state is None else "given weights",
                               "keep_normalization": keep_normalization, "freeze_encoder": freeze_encoder}
            if ctx.is_main:
                save_checkpoint(out, net, training=header, provenance=provenance)
        else:
            stale += 1
        if ctx.is_main:
            _write_csv(log_csv, history)
            if progress:
                tqdm.write(f"epoch {epoch}: train {train_loss:.5f}  val {val_loss:.5f}  lr {row['lr']:.2e}"
                           f"{'  *best' if best_epoch == first_epoch + epoch else ''}")
        if stale >= optim.patience:
            break
    if ctx.is_main:
        _plot(curve_png, history, best_epoch)
    net.load_state_dict(best_state)
    return TrainResult(out, log_csv, curve_png, best_epoch, best_loss, len(history) - first_epoch, history,
                       net.eval(), bags=len(bags), frames=sum(b.frames for b in bags))


def _start_at_mean_command(net: PolicyNetwork, sequences) -> None:
    """Set the head's bias so the untrained network commands the training data's mean.

    Without it the first updates all chase one consistent error (the mean forward speed) and
    AdamW removes it by saturating tanh features, the image features included; those never
    recover and the policy ends up ignoring its camera."""
    mean = np.concatenate([np.asarray(s.cmd, np.float64) for s in sequences]).mean(axis=0)
    normalised = np.clip(mean / net.limits.cpu().numpy(), -0.9, 0.9)
    with torch.no_grad():
        for _, head in net.members():
            head.bias.copy_(torch.as_tensor(np.arctanh(normalised), dtype=head.bias.dtype))


def encoder_autocast(precision: str, device: torch.device) -> torch.dtype | None:
    """The dtype the image encoder trains in for `optim.encoder_precision` on `device`: None
    (float32) for fp32, bfloat16 for bf16, and for auto bfloat16 where the device has native
    bf16 arithmetic (AMX or AVX-512 BF16 on a CPU; elsewhere bf16 is emulated, and slower)."""
    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    if device.type == "cuda":
        native = torch.cuda.is_bf16_supported()
    else:
        native = any(getattr(torch.cpu, probe, lambda: False)()
                     for probe in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"))
    return torch.bfloat16 if native else None


def bootstrap_weights(windows: int, members: int, seed: int) -> np.ndarray:
    """float32 [windows, members]: how often each member sees each window, Poisson(1) counts
    (a bootstrap resample each); all ones for a single policy, which trains on the data as it is."""
    if members == 1:
        return np.ones((windows, 1), np.float32)
    return np.random.default_rng([seed, members, 0xB007]).poisson(1.0, (windows, members)).astype(np.float32)


def _augmented_batches(windows: SequenceWindows, order: np.ndarray, batch_size: int, count: int,
                       member_weights: np.ndarray, augment):
    """The epoch's `count` training batches (windows in `order`, augmented, with their rows of
    `member_weights` as "member_weight" [B, K]), each made on a background thread while the one
    before it trains: reading and augmenting the next batch overlaps the forward and backward
    passes (torch and numpy release the GIL in their loops). One thread makes them all, in
    order, so the random draws are the same as made inline."""
    def make(number: int) -> dict[str, torch.Tensor]:
        ids = order[number * batch_size:(number + 1) * batch_size]
        return augment(_to_torch({**windows.batch(ids), "member_weight": member_weights[ids]}))

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="batches") as pool:
        upcoming = pool.submit(make, 0) if count else None
        for number in range(count):
            batch = upcoming.result()
            upcoming = pool.submit(make, number + 1) if number + 1 < count else None
            yield batch


def _to_torch(batch: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in batch.items()}


def _masked_error(net: PolicyNetwork, predicted: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
                  member_weight: torch.Tensor | None = None):
    """(weighted sum over real frames of the mean squared normalised command error, sum of the
    weights). `predicted` is [B, T, 4], or the members' [K, B, T, 4] with `member_weight` [B, K]:
    a frame's weight is its mask times its window's weight for that member."""
    limits = net.limits
    target = torch.maximum(torch.minimum(target, limits), -limits)
    error = (net.normalize_command(predicted) - net.normalize_command(target)).pow(2).mean(dim=-1)
    weight = mask if member_weight is None else member_weight.T[:, :, None] * mask
    return (error * weight).sum(), weight.sum()


def _tbptt_step(model, net: PolicyNetwork, batch, optimizer, scheduler, optim) -> tuple[float, float, float]:
    """Train on one batch; (weighted error sum, weight sum, real frames) of its chunks."""
    state = None
    loss_sum, weight_sum, frames = 0.0, 0.0, 0.0
    steps = batch["images"].shape[1]
    for start in range(0, steps, optim.tbptt_steps):
        part = slice(start, start + optim.tbptt_steps)
        predicted, state = model(batch["images"][:, part], batch["imu"][:, part], batch["dt"][:, part], state,
                                 members=True)
        error, weight = _masked_error(net, predicted, batch["cmd"][:, part], batch["mask"][:, part],
                                      batch["member_weight"])
        if weight.item() == 0:  # no frame of this chunk counts (flown by the policy itself, or no member drew it)
            state = _detach(state)
            continue
        optimizer.zero_grad(set_to_none=True)
        (error / weight).backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), optim.grad_clip)
        optimizer.step()
        scheduler.step()
        state = _detach(state)
        loss_sum += error.item()
        weight_sum += weight.item()
        frames += batch["mask"][:, part].gt(0).sum().item()
    return loss_sum, weight_sum, frames


def _detach(state):
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return state.detach()
    return type(state)(_detach(s) for s in state)


@torch.no_grad()
def _validate(net: PolicyNetwork, val: SequenceWindows, ctx: DistContext, batch_size: int) -> float:
    """Mean validation loss over all processes' shards (each evaluates every world_size-th window)."""
    net.eval()
    total, frames = 0.0, 0.0
    mine = list(range(ctx.rank, len(val), ctx.world_size))
    for start in range(0, len(mine), batch_size):
        batch = {k: v.to(ctx.device) for k, v in _to_torch(val.batch(mine[start:start + batch_size])).items()}
        predicted, _ = net(batch["images"], batch["imu"], batch["dt"])
        error, count = _masked_error(net, predicted, batch["cmd"], batch["mask"])
        total += float(error)
        frames += float(count)
    total, frames = all_reduce_sum([total, frames], ctx)
    return total / max(frames, 1.0)


def _warmup_cosine(warmup_steps: int, total_steps: int, min_ratio: float):
    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
    return factor


def _training_header(config: TrainConfig, spec: PolicySpec, epochs: int, best_epoch: int, best_loss: float,
                     train_bags: list[BagData], val_bags: list[BagData], ctx: DistContext) -> dict:
    return {
        "method": "behaviour cloning, truncated BPTT",
        "config": config.to_dict(),
        "epochs": epochs, "best_epoch": best_epoch,
        "best_loss": best_loss, "best_loss_is": "validation" if val_bags else "training",
        "train_bags": [str(b.path) for b in train_bags], "val_bags": [str(b.path) for b in val_bags],
        "train_frames": sum(b.frames for b in train_bags), "val_frames": sum(b.frames for b in val_bags),
        "processes": ctx.world_size, "kind": spec.kind, "ensemble": spec.ensemble,
        "member_resampling": "Poisson(1) weight per window and member" if spec.ensemble > 1 else None,
    }


def _write_csv(path: Path, history: list[dict]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(history[0]))
        writer.writeheader()
        writer.writerows(history)


def _plot(path: Path, history: list[dict], best_epoch: int) -> None:
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.ticker import MaxNLocator

    epochs = [row["epoch"] for row in history]
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    ax.plot(epochs, [row["train_loss"] for row in history], marker="o", label="training")
    if not all(math.isnan(row["val_loss"]) for row in history):
        ax.plot(epochs, [row["val_loss"] for row in history], marker="o", label="validation")
    ax.axvline(best_epoch, color="grey", linestyle=":", label=f"best (epoch {best_epoch})")
    round_starts = [row["epoch"] for before, row in itertools.pairwise(history) if row["stage"] != before["stage"]]
    for number, epoch in enumerate(round_starts):
        ax.axvline(epoch - 0.5, color="tab:green", alpha=0.4, label="DAgger round starts" if number == 0 else None)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("MSE of command / limits")
    ax.set_yscale("log")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
