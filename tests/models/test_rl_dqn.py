"""The DQN agent: determinism, replay buffer, epsilon schedule, target network, safe save/load, and
that it learns the obvious policy on a rising market."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
import torch

from nofx.domain.errors import ConfigError
from nofx.markets.rulebook import build_rulebook
from nofx.models.rl.dqn import DQNAgent, DQNConfig, ReplayBuffer, linear_epsilon
from nofx.models.rl.env import EnvConfig, TradingEnv
from nofx.models.rl.evaluate import buy_and_hold, run_policy
from nofx.models.rl.observation import OBS_SIZE

SMALL = DQNConfig(total_steps=400, learning_starts=100, buffer_size=1000, batch_size=32,
                  target_update_interval=150, eval_interval=300, hidden=(16, 16))


def synthetic_env(drift=0.0, n=300, seed=7, episode_bars=60):
    rng = np.random.default_rng(seed)
    closes = np.round(10 * np.exp(np.cumsum(rng.normal(drift, 0.01, n))), 2)
    bars = pd.DataFrame({
        "symbol": "600000.SH", "datetime": pd.bdate_range("2020-01-02", periods=n),
        "open": closes, "high": closes * 1.005, "low": closes * 0.995, "close": closes,
        "volume": 1e6, "amount": closes * 1e6, "preclose": np.r_[closes[0], closes[:-1]],
        "trade_status": 1, "is_st": 0,
    })
    return TradingEnv.from_bars(bars, "600000.SH", build_rulebook("cn"),
                                config=EnvConfig(cash=20_000, episode_bars=episode_bars))


def weights(agent):
    return torch.cat([p.detach().flatten() for p in agent.q.parameters()])


def test_training_is_deterministic_with_a_seed():
    a = DQNAgent(OBS_SIZE, 5, SMALL, seed=3)
    a.train(synthetic_env())
    b = DQNAgent(OBS_SIZE, 5, SMALL, seed=3)
    b.train(synthetic_env())
    c = DQNAgent(OBS_SIZE, 5, SMALL, seed=4)
    c.train(synthetic_env())
    assert torch.equal(weights(a), weights(b))
    assert not torch.equal(weights(a), weights(c))


def test_agent_construction_leaves_global_torch_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    DQNAgent(OBS_SIZE, 5, SMALL, seed=9)
    assert torch.equal(torch.rand(3), expected)


def test_replay_buffer_wraps_and_samples_stored_transitions():
    buf = ReplayBuffer(4, 2)
    for k in range(6):
        buf.add(np.full(2, k, np.float32), k % 5, float(k), np.full(2, k + 1, np.float32), k == 5)
    assert len(buf) == 4
    assert sorted(buf.rewards.tolist()) == [2.0, 3.0, 4.0, 5.0]  # 0 and 1 overwritten
    obs, actions, rewards, next_obs, dones = buf.sample(np.random.default_rng(0), 50)
    assert set(rewards.tolist()) <= {2.0, 3.0, 4.0, 5.0}
    assert torch.equal(next_obs[:, 0], obs[:, 0] + 1)
    assert torch.equal(dones, (rewards == 5.0).float())


def test_epsilon_decays_linearly_then_stays():
    cfg = DQNConfig(total_steps=1000, exploration_fraction=0.5, exploration_initial_eps=1.0,
                    exploration_final_eps=0.1)
    assert linear_epsilon(cfg, 0) == 1.0
    assert linear_epsilon(cfg, 250) == pytest.approx(0.55)
    assert linear_epsilon(cfg, 500) == pytest.approx(0.1)
    assert linear_epsilon(cfg, 999) == pytest.approx(0.1)


def test_target_network_only_moves_at_the_update_interval():
    cfg = SMALL.model_copy(update={"total_steps": 350, "target_update_interval": 10_000})
    agent = DQNAgent(OBS_SIZE, 5, cfg, seed=1)
    before = [p.clone() for p in agent.target.parameters()]
    agent.train(synthetic_env())
    assert all(torch.equal(x, y) for x, y in zip(before, agent.target.parameters()))
    assert not torch.equal(weights(agent), torch.cat([p.flatten() for p in before]))


def test_gradient_clipping_bounds_the_update():
    # with plain SGD the step is lr * grad, so clipping bounds the parameter change by lr * max_norm
    cfg = SMALL.model_copy(update={"max_grad_norm": 0.01})
    agent = DQNAgent(OBS_SIZE, 5, cfg, seed=0)
    agent.optimizer = torch.optim.SGD(agent.q.parameters(), lr=1.0)
    buf = ReplayBuffer(64, OBS_SIZE)
    for _ in range(64):
        buf.add(np.ones(OBS_SIZE, np.float32), 1, 1e6, np.ones(OBS_SIZE, np.float32), True)
    before = weights(agent).clone()
    agent._gradient_step(buf, np.random.default_rng(0))
    assert torch.linalg.vector_norm(weights(agent) - before) <= 0.01 + 1e-6


def test_save_load_round_trip_uses_weights_only(tmp_path):
    agent = DQNAgent(OBS_SIZE, 5, SMALL, seed=2, metadata={"lot": 100, "symbol": "600000.SH"})
    agent.train(synthetic_env())
    path = tmp_path / "m.pt"
    agent.save(path)
    loaded = DQNAgent.load(path)
    obs = np.random.default_rng(0).normal(size=(10, OBS_SIZE)).astype(np.float32)
    np.testing.assert_array_equal(loaded.q_values(obs), agent.q_values(obs))
    assert loaded.metadata == {"lot": 100, "symbol": "600000.SH"} and loaded.config == SMALL


class Exploit:  # a pickled object that would run code when unpickled by an unsafe loader
    def __reduce__(self):
        return (print, ("unsafe load ran code",))


def test_load_refuses_files_that_are_not_plain_weights(tmp_path):
    evil = tmp_path / "evil.pt"
    torch.save({"format": "nofx-dqn/1", "payload": Exploit()}, evil)
    with pytest.raises(ConfigError, match="safely"):
        DQNAgent.load(evil)
    other = tmp_path / "other.pt"
    torch.save({"state_dict": {}}, other)
    with pytest.raises(ConfigError, match="not a nofx DQN checkpoint"):
        DQNAgent.load(other)
    with pytest.raises(ConfigError, match="not found"):
        DQNAgent.load(tmp_path / "missing.pt")
    raw = tmp_path / "raw.pt"
    raw.write_bytes(pickle.dumps([1, 2], protocol=2))  # a bare pickle, not a torch file
    with pytest.raises(ConfigError, match="safely"):
        DQNAgent.load(raw)


@pytest.mark.slow
def test_agent_learns_to_hold_stock_in_a_rising_market():
    cfg = DQNConfig(total_steps=6000, learning_starts=500, buffer_size=6000, eval_interval=1000, hidden=(32, 32))
    env = synthetic_env(drift=0.004, n=400, episode_bars=120)
    agent = DQNAgent(OBS_SIZE, 5, cfg, seed=0)
    agent.train(env)
    test = synthetic_env(drift=0.004, n=400, seed=8, episode_bars=None)
    run = run_policy(test, agent.act)
    ret = run.equity.iloc[-1] / run.equity.iloc[0] - 1
    assert ret > 0.15  # cash earns 0; the price roughly triples
    assert (run.actions <= 2).mean() > 0.5  # mostly buys and holds
    assert buy_and_hold(test).iloc[-1] > test.config.cash
