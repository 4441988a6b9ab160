"""Train -> save -> load -> predict on small synthetic bars: identical reloads, causal predictions."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from nofx.data.panel import BarPanel
from nofx.domain.errors import ConfigError
from nofx.features.causality import assert_causal
from nofx.models.config import ModelConfig, RunConfig, Segment, TrainConfig
from nofx.models.dataset import FeatureConfig
from nofx.models.run import TrainedRun, select_universe, train_run

KINDS = ["transformer", "lstm", "gat", "lightgbm", "linear"]


def _cfg(kind: str, frame: pd.DataFrame, seed: int = 0) -> RunConfig:
    return RunConfig(
        data="synthetic", universe=tuple(sorted(frame["symbol"].unique())),
        train=Segment.parse("2019-01-01:2019-06-30"), valid=Segment.parse("2019-07-01:2019-09-30"),
        features=FeatureConfig(seq_len=10), seed=seed,
        model=ModelConfig(kind=kind, hidden=8, heads=2, graph_window=20, num_rounds=20, ridge_alphas=(1.0, 10.0)),
        training=TrainConfig(epochs=2, patience=2, day_stride=2, valid_stride=2),
    )


@pytest.fixture(scope="module")
def trained(synth_frame, tmp_path_factory) -> dict[str, tuple[TrainedRun, object]]:
    out = {}
    for kind in KINDS:
        run = train_run(_cfg(kind, synth_frame), synth_frame)
        d = tmp_path_factory.mktemp(kind)
        run.save(d)
        out[kind] = (run, d)
    return out


@pytest.mark.parametrize("kind", KINDS)
def test_save_load_gives_identical_predictions(trained, synth_frame, kind):
    run, d = trained[kind]
    panel = BarPanel.from_frame(synth_frame)
    a = run.predict_panel(panel, "2019-10-01", "2019-12-31")
    b = TrainedRun.load(d).predict_panel(panel, "2019-10-01", "2019-12-31")
    assert np.isfinite(a).sum() > 100
    np.testing.assert_array_equal(a, b)
    cfg = json.loads((d / "config.json").read_text())
    assert cfg["model"]["kind"] == kind and cfg["seed"] == 0 and cfg["features"]["set"] == "alpha360"
    assert cfg["label"]["horizon"] == 1 and len(cfg["universe"]) == 24


@pytest.mark.parametrize("kind", KINDS)
def test_predictions_do_not_look_ahead(trained, synth_frame, kind):
    run, _ = trained[kind]
    f = synth_frame[synth_frame["datetime"] >= "2019-06-01"]
    assert_causal(lambda p: run.predict_panel(p), BarPanel.from_frame(f), n_checks=1, atol=1e-6, min_cut=30)


def test_predicts_unseen_stocks_and_dates(trained):
    from tests.models.conftest import synthetic_bars

    run, _ = trained["gat"]
    other = synthetic_bars(n_stocks=7, n_days=120, seed=9, start="2023-01-02")
    other["symbol"] = other["symbol"].str.replace("SH", "SZ").str.replace("^6", "0", regex=True)
    preds = run.predict_frame(BarPanel.from_frame(other), "2023-03-01", "2023-06-01")
    assert set(preds["symbol"]) == set(other["symbol"])
    assert np.isfinite(preds["score"]).all()


def test_training_is_deterministic(synth_frame):
    a = train_run(_cfg("lstm", synth_frame, seed=3), synth_frame)
    b = train_run(_cfg("lstm", synth_frame, seed=3), synth_frame)
    for (k, va), vb in zip(a.model.net.state_dict().items(), b.model.net.state_dict().values()):
        assert torch.equal(va, vb), k


def test_checkpoint_is_plain_weights(trained):
    _, d = trained["transformer"]
    state = torch.load(d / "model.pt", weights_only=True)  # would raise on pickled code
    assert all(isinstance(v, torch.Tensor) for v in state.values())


def test_segments_must_not_overlap():
    with pytest.raises(ValueError):
        RunConfig(data="x", universe=("600000.SH",), train=Segment.parse("2019-01-01:2019-12-31"),
                  valid=Segment.parse("2019-06-01:2020-06-30"), model=ModelConfig(kind="linear"))
    with pytest.raises(ConfigError):
        Segment.parse("2019-01-01..2019-12-31")


def test_universe_excludes_indices_and_uses_only_its_window(synth_frame):
    idx = synth_frame[synth_frame["symbol"] == "600000.SH"].assign(symbol="000300.SH", amount=1e15)
    f = pd.concat([synth_frame, idx])
    is_1 = f["symbol"] == "600001.SH"
    f.loc[is_1, "amount"] = np.where(f.loc[is_1, "datetime"] > "2019-06-30", 1e14, 0.0)  # huge only later
    uni = select_universe(f, "2019-01-01", "2019-06-30", 5)
    assert len(uni) == 5 and "000300.SH" not in uni and "600001.SH" not in uni


@pytest.mark.parametrize("kind,seq_len", [("linear", 1), ("lstm", 5)])
def test_alpha158_feature_set_trains_and_stays_causal(synth_frame, kind, seq_len):
    cfg = _cfg(kind, synth_frame).model_copy(update={"features": FeatureConfig(set="alpha158", seq_len=seq_len)})
    run = train_run(cfg, synth_frame)
    f = synth_frame[synth_frame["datetime"] >= "2019-03-01"]
    panel = BarPanel.from_frame(f)
    s = run.predict_panel(panel)
    assert np.isfinite(s[-20:]).mean() > 0.9
    assert_causal(lambda p: run.predict_panel(p), panel, n_checks=1, atol=1e-6, min_cut=80)


def test_device_cuda_without_cuda_is_a_config_error():
    import torch

    from nofx.domain.errors import ConfigError
    from nofx.models.training import pick_device

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ConfigError, match="--device cuda"):
        pick_device("cuda")
    assert pick_device("cpu").type == "cpu"
