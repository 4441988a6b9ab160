"""Stock-correlation graphs for the GAT, built vectorised from trailing returns (no look-ahead).

The correlation of two stocks over a window is that of their daily returns after each column is
standardised over its own valid days and missing days are set to 0 (a suspension then counts as "no
co-movement" rather than dropping the day pairwise, which would make the matrix non-vectorisable and
not positive semi-definite). One matrix product gives all pairs; ``tests/models/test_graph.py`` checks it
against an explicit double loop over pairs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nofx.domain.errors import ConfigError


@dataclass(frozen=True, slots=True)
class GraphSpec:
    window: int = 60  # trailing days of returns
    top_k: int = 10  # neighbours per stock (by correlation), or
    threshold: float | None = None  # keep every pair with correlation >= threshold instead
    rebuild_every: int = 20  # rows between rebuilds; each uses only returns up to its rebuild row
    min_obs: int = 20  # a stock with fewer valid returns in the window gets no edges

    def __post_init__(self) -> None:
        if self.window < 2 or self.top_k < 1 or self.rebuild_every < 1:
            raise ConfigError("graph window >= 2, top_k >= 1 and rebuild_every >= 1 are required",
                              window=self.window, top_k=self.top_k, rebuild_every=self.rebuild_every)


def correlation_matrix(returns: np.ndarray, min_obs: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """(W, N) returns -> (N, N) correlation (diagonal 0) and the (N,) mask of stocks with enough data."""
    fin = np.isfinite(returns)
    n_obs = fin.sum(axis=0)
    r = np.where(fin, returns, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mu = r.sum(axis=0) / np.maximum(n_obs, 1)
        dev = np.where(fin, returns - mu, 0.0)
        sd = np.sqrt((dev * dev).sum(axis=0) / np.maximum(n_obs, 1))
        z = np.where(sd > 1e-12, dev / np.where(sd > 1e-12, sd, 1.0), 0.0)
    ok = (n_obs >= min_obs) & (sd > 1e-12)
    corr = z.T @ z / returns.shape[0]
    corr[~ok, :] = 0.0
    corr[:, ~ok] = 0.0
    np.fill_diagonal(corr, 0.0)
    return corr, ok


def build_edges(corr: np.ndarray, ok: np.ndarray, top_k: int = 10,
                threshold: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Directed edges ``(2, E)`` source->target and weights ``(E,)`` from a correlation matrix.

    Each valid target node receives edges from its ``top_k`` most correlated valid stocks (or from all
    with correlation >= ``threshold``). Edges are sorted by (target, source) so the output is canonical.
    """
    n = corr.shape[0]
    c = np.where(ok[:, None] & ok[None, :], corr, -np.inf)
    np.fill_diagonal(c, -np.inf)
    if threshold is not None:
        tgt, src = np.nonzero(c >= threshold)
    else:
        k = min(top_k, max(0, int(ok.sum()) - 1))
        if k == 0:
            return np.zeros((2, 0), dtype=np.int64), np.zeros(0, dtype=np.float32)
        # ties broken by lower source index, as the naive construction does
        order = np.lexsort((np.broadcast_to(np.arange(n), (n, n)), -c), axis=1)[:, :k]
        tgt = np.repeat(np.arange(n), k)
        src = order.reshape(-1)
        keep = ok[tgt] & np.isfinite(c[tgt, src])
        tgt, src = tgt[keep], src[keep]
    idx = np.lexsort((src, tgt))
    tgt, src = tgt[idx], src[idx]
    return np.stack([src, tgt]).astype(np.int64), corr[tgt, src].astype(np.float32)


def daily_returns(close: np.ndarray) -> np.ndarray:
    out = np.full_like(close, np.nan, dtype="float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        out[1:] = close[1:] / close[:-1] - 1.0
    return out


class GraphSchedule:
    """Graphs for every row of a (T, N) panel: rebuilt every ``rebuild_every`` rows from returns <= that row.

    Built lazily and cached per rebuild row, so predicting a few days costs only their graphs.
    """

    def __init__(self, close: np.ndarray, spec: GraphSpec) -> None:
        self._ret = daily_returns(close)
        self._spec = spec
        self._cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def rebuild_row(self, t: int) -> int:
        return (t // self._spec.rebuild_every) * self._spec.rebuild_every

    def edges_at(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        r = self.rebuild_row(t)
        if r not in self._cache:
            s = self._spec
            win = self._ret[max(0, r - s.window + 1): r + 1]
            corr, ok = correlation_matrix(win, s.min_obs)
            self._cache[r] = build_edges(corr, ok, s.top_k, s.threshold)
        return self._cache[r]

    def subgraph_at(self, t: int, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Edges among ``nodes`` (column indices), renumbered 0..len(nodes)-1."""
        ei, w = self.edges_at(t)
        pos = np.full(self._ret.shape[1], -1, dtype=np.int64)
        pos[nodes] = np.arange(len(nodes))
        src, tgt = pos[ei[0]], pos[ei[1]]
        keep = (src >= 0) & (tgt >= 0)
        return np.stack([src[keep], tgt[keep]]), w[keep]
