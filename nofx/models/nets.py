"""The three deep predictors. Each maps one day's cross-section of windows to a score per stock.

Input ``x``: (B, L, F) float windows, oldest first, the last step being today; ``mask``: (B, L) bool,
True where a step holds data (False: not listed yet, suspended, before the file starts). Every
model's ``forward`` returns a dict whose ``"score"`` (B,) ranks stocks by expected next-day return;
the Transformer adds its multi-task heads.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class PositionalEncoding(nn.Module):
    """Sinusoidal encoding (Vaswani et al.), indexed so that the last step (today) is position 0."""

    def __init__(self, d_model: int, max_len: int = 512) -> None:
        super().__init__()
        pos = torch.arange(max_len, dtype=torch.float32)[:, None]
        div = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, d_model)
        pe[:, 0::2] = torch.sin(pos * div)
        pe[:, 1::2] = torch.cos(pos * div)[:, : d_model // 2]
        self.register_buffer("pe", pe, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        L = x.shape[1]
        # counting back from today keeps "today" at the same encoding whatever the window length
        return x + self.pe[:L].flip(0)[None]


class _ReLU(nn.Module):
    """ReLU as an opaque module. It keeps ``TransformerEncoderLayer`` off its inference "fast path",
    whose masked-softmax kernel is about 3x slower on CPU than the regular scaled-dot-product path for
    these short windows (measured by benchmarks/bench_models.py); the maths is the default ReLU."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x)


class TransformerPredictor(nn.Module):
    """Encoder-only Transformer over the window with multi-task heads.

    Heads: ``returns`` (n_steps forward returns, the first is the ranking ``score``), ``direction``
    (3-class logits: down/flat/up), ``volatility`` (future realised volatility, z-scored per day) and
    ``risk`` (future max drawdown, z-scored per day). Padded steps are excluded from attention through
    ``src_key_padding_mask``; pooling is the masked mean plus today's token.
    """

    def __init__(self, n_features: int, d_model: int = 32, n_heads: int = 4, n_layers: int = 1,
                 dropout: float = 0.1, n_steps: int = 1, max_len: int = 512) -> None:
        super().__init__()
        self.inp = nn.Linear(n_features, d_model)
        self.pos = PositionalEncoding(d_model, max_len)
        layer = nn.TransformerEncoderLayer(d_model, n_heads, dim_feedforward=2 * d_model, dropout=dropout,
                                           activation=_ReLU(), batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(2 * d_model)
        self.returns = nn.Linear(2 * d_model, n_steps)
        self.direction = nn.Linear(2 * d_model, 3)
        self.volatility = nn.Linear(2 * d_model, 1)
        self.risk = nn.Linear(2 * d_model, 1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, **_: object) -> dict[str, torch.Tensor]:
        mask = _ensure_one_step(mask)
        # an additive float mask (0 / -inf) rather than a bool one: same result, ~1.7x faster backward on CPU
        pad = torch.zeros(mask.shape, dtype=x.dtype, device=x.device).masked_fill(~mask, float("-inf"))
        h = self.encoder(self.pos(self.inp(x)), src_key_padding_mask=pad)
        m = mask.unsqueeze(-1).to(h.dtype)
        pooled = (h * m).sum(1) / m.sum(1).clamp_min(1.0)
        z = self.norm(torch.cat([pooled, h[:, -1]], dim=-1))
        rets = self.returns(z)
        return {"score": rets[:, 0], "returns": rets, "direction": self.direction(z),
                "volatility": self.volatility(z).squeeze(-1), "risk": self.risk(z).squeeze(-1)}


class TemporalAttention(nn.Module):
    """Additive attention over time steps; padded steps get zero weight."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.proj = nn.Sequential(nn.Linear(dim, dim), nn.Tanh(), nn.Linear(dim, 1, bias=False))

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        e = self.proj(h).squeeze(-1).masked_fill(~mask, float("-inf"))
        a = torch.softmax(e, dim=1)
        return (a.unsqueeze(-1) * h).sum(1), a


class LSTMAttentionPredictor(nn.Module):
    """Bidirectional LSTM over the window (which ends today, so reading it backwards is still causal)
    with temporal attention; the attended summary and today's state feed the score head."""

    def __init__(self, n_features: int, hidden: int = 32, n_layers: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        self.lstm = nn.LSTM(n_features, hidden, n_layers, batch_first=True, bidirectional=True,
                            dropout=dropout if n_layers > 1 else 0.0)
        self.attn = TemporalAttention(2 * hidden)
        self.head = nn.Sequential(nn.Linear(4 * hidden, hidden), nn.GELU(), nn.Linear(hidden, 1))

    def encode(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        mask = _ensure_one_step(mask)
        h, _ = self.lstm(x * mask.unsqueeze(-1).to(x.dtype))
        ctx, _ = self.attn(h, mask)
        return torch.cat([ctx, h[:, -1]], dim=-1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, **_: object) -> dict[str, torch.Tensor]:
        return {"score": self.head(self.encode(x, mask)).squeeze(-1)}


class GATPredictor(nn.Module):
    """LSTM encoder per stock, then GATConv layers over the day's correlation graph (edge weights as
    edge features), with a residual from the encoder so isolated stocks still get a score."""

    def __init__(self, n_features: int, hidden: int = 32, n_layers: int = 1, heads: int = 2,
                 gat_layers: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        # imported here: torch-geometric takes seconds to import and only the GAT needs it
        from torch_geometric.nn import GATConv

        self.lstm = nn.LSTM(n_features, hidden, n_layers, batch_first=True,
                            dropout=dropout if n_layers > 1 else 0.0)
        self.gats = nn.ModuleList(
            GATConv(hidden, hidden, heads=heads, concat=False, edge_dim=1, add_self_loops=True,
                    fill_value="mean", dropout=dropout)
            for _ in range(gat_layers)
        )
        self.head = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.GELU(), nn.Linear(hidden, 1))

    def forward(self, x: torch.Tensor, mask: torch.Tensor, edge_index: torch.Tensor | None = None,
                edge_weight: torch.Tensor | None = None, **_: object) -> dict[str, torch.Tensor]:
        mask = _ensure_one_step(mask)
        out, _ = self.lstm(x * mask.unsqueeze(-1).to(x.dtype))
        h0 = out[:, -1]
        h = h0
        if edge_index is None:
            edge_index = torch.zeros((2, 0), dtype=torch.long, device=x.device)
            edge_weight = torch.zeros(0, device=x.device)
        ea = edge_weight.reshape(-1, 1).to(h.dtype) if edge_weight is not None else None
        for conv in self.gats:
            h = torch.nn.functional.elu(conv(h, edge_index, edge_attr=ea)) + h
        return {"score": self.head(torch.cat([h0, h], dim=-1)).squeeze(-1)}


def _ensure_one_step(mask: torch.Tensor) -> torch.Tensor:
    """Keep today's step always visible: a row with every step masked would make attention NaN.
    Callers only score stocks that traded today, so this changes nothing for real samples."""
    mask = mask.clone()
    mask[:, -1] = True
    return mask
