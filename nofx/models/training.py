"""Training of the deep predictors: one day's cross-section per step, AdamW, cosine schedule,
gradient clipping, early stopping on validation rank IC, deterministic seeds."""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn

from nofx.domain.errors import ConfigError
from nofx.models.config import ModelConfig, TrainConfig
from nofx.models.dataset import DayBatch, FeatureConfig, PanelDataset
from nofx.models.graph import GraphSchedule, GraphSpec
from nofx.models.metrics import daily_ic
from nofx.models.nets import GATPredictor, LSTMAttentionPredictor, TransformerPredictor


def seed_everything(seed: int, threads: int = 2) -> None:
    """Same seed, same data -> same weights on CPU (torch's deterministic mode, single process)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True, warn_only=True)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():  # torch would fail deep in training instead
        raise ConfigError("--device cuda: no CUDA device is available here (use auto or cpu)")
    return torch.device(name)


def build_net(model: ModelConfig, features: FeatureConfig, n_steps: int) -> nn.Module:
    F = features.n_features
    if model.kind == "transformer":
        heads = model.heads if model.hidden % model.heads == 0 else 1
        return TransformerPredictor(F, model.hidden, heads, model.layers, model.dropout, n_steps,
                                    max_len=max(512, features.seq_len))
    if model.kind == "lstm":
        return LSTMAttentionPredictor(F, model.hidden, model.layers, model.dropout)
    if model.kind == "gat":
        return GATPredictor(F, model.hidden, model.layers, heads=min(model.heads, 2), dropout=model.dropout)
    raise ValueError(f"not a deep model: {model.kind}")


def graph_spec(model: ModelConfig) -> GraphSpec:
    return GraphSpec(window=model.graph_window, top_k=model.graph_top_k, threshold=model.graph_threshold,
                     rebuild_every=model.graph_rebuild_every)


def _zscore(t: torch.Tensor) -> torch.Tensor:
    """Per-day z-score of a label (columns independent), NaN kept."""
    fin = torch.isfinite(t)
    n = fin.sum(0).clamp_min(1)
    mu = torch.where(fin, t, 0).sum(0) / n
    var = torch.where(fin, (t - mu) ** 2, 0).sum(0) / n
    return (t - mu) / var.sqrt().clamp_min(1e-8)


def rank_norm(t: torch.Tensor) -> torch.Tensor:
    """Per-day cross-sectional rank mapped to a zero-mean unit-variance uniform (Qlib's CSRankNorm):
    one stock's extreme return (a limit-up streak, an IPO) cannot dominate the day's loss."""
    fin = torch.isfinite(t)
    out = torch.full_like(t, float("nan"))
    v = t[fin]
    if v.numel() == 0:
        return out
    r = torch.empty_like(v)
    r[torch.argsort(v, stable=True)] = torch.arange(v.numel(), dtype=v.dtype, device=v.device)
    out[fin] = ((r + 0.5) / v.numel() - 0.5) * 3.4641016  # sqrt(12): unit variance
    return out


def _masked_mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    fin = torch.isfinite(target)
    if not fin.any():
        return pred.sum() * 0.0
    return ((pred[fin] - target[fin]) ** 2).mean()


@dataclass
class TorchModelRunner:
    """A deep net plus what it needs per day (device, graphs); turns DayBatch -> scores."""

    net: nn.Module
    kind: str
    device: torch.device
    gspec: GraphSpec | None = None

    def forward(self, batch: DayBatch, graphs: GraphSchedule | None) -> dict[str, torch.Tensor]:
        x = torch.from_numpy(batch.x).to(self.device)
        mask = torch.from_numpy(batch.mask).to(self.device)
        kw = {}
        if self.kind == "gat" and graphs is not None:
            ei, w = graphs.subgraph_at(batch.t, batch.cols)
            kw = {"edge_index": torch.from_numpy(ei).to(self.device),
                  "edge_weight": torch.from_numpy(w).to(self.device)}
        return self.net(x, mask, **kw)

    @torch.no_grad()
    def predict(self, batch: DayBatch, graphs: GraphSchedule | None) -> np.ndarray:
        self.net.eval()
        return self.forward(batch, graphs)["score"].float().cpu().numpy().astype("float64")


def loss_of(out: dict[str, torch.Tensor], labels: dict[str, np.ndarray], tc: TrainConfig,
            device: torch.device) -> torch.Tensor:
    y = rank_norm(torch.from_numpy(labels["ret"]).float().to(device))
    loss = _masked_mse(out["score"], y)
    if "returns" in out:  # multi-task Transformer heads
        steps = _zscore(torch.from_numpy(labels["returns"]).float().to(device))
        k = out["returns"].shape[1]
        loss = loss + tc.w_returns * _masked_mse(out["returns"], steps[:, :k])
        cls = torch.from_numpy(labels["direction"]).to(device)
        fin = torch.isfinite(cls)
        if fin.any():
            loss = loss + tc.w_direction * nn.functional.cross_entropy(out["direction"][fin], cls[fin].long())
        loss = loss + tc.w_volatility * _masked_mse(out["volatility"], _zscore(
            torch.from_numpy(labels["volatility"]).float().to(device)))
        loss = loss + tc.w_risk * _masked_mse(out["risk"], _zscore(torch.from_numpy(labels["risk"]).float().to(device)))
    return loss


def predict_days(runner: TorchModelRunner, ds: PanelDataset, days: np.ndarray, graphs: GraphSchedule | None,
                 need_label: bool = False) -> np.ndarray:
    """(len(days), N) scores (NaN for unscored stocks)."""
    N = ds.src.bars.shape[1]
    out = np.full((len(days), N), np.nan)
    for i, t in enumerate(days):
        b = ds.batch(int(t), need_label=need_label)
        if b is not None:
            out[i, b.cols] = runner.predict(b, graphs)
    return out


@dataclass
class FitReport:
    history: list[dict[str, float]]
    best_epoch: int
    best_valid_rank_ic: float


def fit_torch(runner: TorchModelRunner, ds: PanelDataset, train_days: np.ndarray, valid_days: np.ndarray,
              tc: TrainConfig, seed: int, graphs: GraphSchedule | None,
              on_step: Callable[[str], None] | None = None) -> FitReport:
    """Train in place; the net ends with the weights of the best validation epoch."""
    net, dev = runner.net, runner.device
    net.to(dev)
    rng = np.random.default_rng(seed)
    opt = torch.optim.AdamW(net.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
    steps_per_epoch = max(1, len(train_days) // tc.day_stride)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=tc.epochs * steps_per_epoch)
    y_valid = ds.labels["ret"][valid_days] if ds.labels is not None else None
    best, best_epoch, best_state, bad = -np.inf, -1, copy.deepcopy(net.state_dict()), 0
    history: list[dict[str, float]] = []
    for epoch in range(tc.epochs):
        net.train()
        days = train_days[(epoch % tc.day_stride)::tc.day_stride]
        days = days[rng.permutation(len(days))]
        total, n = 0.0, 0
        for t in days:
            b = ds.batch(int(t), need_label=True)
            if b is None:
                continue
            out = runner.forward(b, graphs)
            loss = loss_of(out, b.labels, tc, dev)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), tc.grad_clip)
            opt.step()
            sched.step()
            total += float(loss.detach())
            n += 1
            if on_step is not None:
                on_step(f"epoch {epoch + 1} loss {total / n:.4f}")
        pred = predict_days(runner, ds, valid_days, graphs, need_label=True)
        ric = float(np.nanmean(daily_ic(pred, y_valid, rank=True)))
        history.append({"epoch": epoch + 1, "train_loss": total / max(n, 1), "valid_rank_ic": ric})
        if ric > best:
            best, best_epoch, bad = ric, epoch + 1, 0
            best_state = copy.deepcopy(net.state_dict())
        else:
            bad += 1
            if bad >= tc.patience:
                break
    net.load_state_dict(best_state)
    return FitReport(history, best_epoch, float(best))
