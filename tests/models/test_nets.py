"""Shapes, padding masks and learnability of the three deep predictors."""

from __future__ import annotations

import pytest
import torch

from nofx.models.nets import GATPredictor, LSTMAttentionPredictor, TransformerPredictor

F, L, B = 6, 12, 16


def _nets():
    torch.manual_seed(0)
    return {
        "transformer": TransformerPredictor(F, d_model=16, n_heads=2, n_layers=1, dropout=0.0, n_steps=3),
        "lstm": LSTMAttentionPredictor(F, hidden=16),
        "gat": GATPredictor(F, hidden=16, heads=2),
    }


def _edges(n: int) -> dict[str, torch.Tensor]:
    src = torch.arange(n)
    ei = torch.stack([src, (src + 1) % n])
    return {"edge_index": ei, "edge_weight": torch.full((n,), 0.5)}


@pytest.mark.parametrize("name", ["transformer", "lstm", "gat"])
def test_output_shapes(name):
    net = _nets()[name].eval()
    x, mask = torch.randn(B, L, F), torch.ones(B, L, dtype=torch.bool)
    out = net(x, mask, **_edges(B))
    assert out["score"].shape == (B,)
    if name == "transformer":
        assert out["returns"].shape == (B, 3) and out["direction"].shape == (B, 3)
        assert out["volatility"].shape == (B,) and out["risk"].shape == (B,)
        assert torch.equal(out["score"], out["returns"][:, 0])


@pytest.mark.parametrize("name", ["transformer", "lstm", "gat"])
def test_padded_steps_do_not_matter(name):
    """Whatever a masked step holds, the output is the same: padding carries no information."""
    net = _nets()[name].eval()
    x = torch.randn(B, L, F)
    mask = torch.ones(B, L, dtype=torch.bool)
    mask[:, :5] = False  # not listed yet
    mask[3, 7] = False  # a suspension inside the window
    x2 = x.clone()
    x2[~mask] = torch.randn(int((~mask).sum()), F) * 100
    with torch.no_grad():
        a = net(x, mask, **_edges(B))["score"]
        b = net(x2, mask, **_edges(B))["score"]
    if name == "transformer":
        assert torch.allclose(a, b, atol=1e-5)
    else:
        # the recurrent models zero padded inputs before reading them
        assert torch.allclose(a, b, atol=1e-6)
    # and an all-padded window (only today's step is forced visible) still gives a finite score
    m3 = torch.zeros(B, L, dtype=torch.bool)
    with torch.no_grad():
        assert torch.isfinite(net(x, m3, **_edges(B))["score"]).all()


def test_gat_uses_the_graph():
    net = _nets()["gat"].eval()
    x, mask = torch.randn(B, L, F), torch.ones(B, L, dtype=torch.bool)
    with torch.no_grad():
        with_graph = net(x, mask, **_edges(B))["score"]
        x2 = x.clone()
        x2[1] += 1.0  # node 1 is node 2's only neighbour
        changed = net(x2, mask, **_edges(B))["score"]
    assert not torch.allclose(with_graph[2], changed[2])
    assert torch.allclose(with_graph[5], changed[5])  # far from node 1: untouched


@pytest.mark.parametrize("name", ["transformer", "lstm", "gat"])
def test_overfits_a_tiny_batch(name):
    torch.manual_seed(0)
    net = _nets()[name]
    x, mask = torch.randn(8, L, F), torch.ones(8, L, dtype=torch.bool)
    y = torch.randn(8)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-2)
    for _ in range(300):
        loss = ((net(x, mask, **_edges(8))["score"] - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.02 * float((y ** 2).mean())
