"""A small DQN agent (Mnih et al. 2015): replay buffer, target network, epsilon-greedy exploration
with linear decay, Huber loss, gradient clipping. Optional double-DQN targets.

Written out (not taken from stable-baselines3) because ``nofx rl eval`` compares this agent against
SB3's DQN on the same environment and budget; the hyper-parameters below map one to one onto
SB3's (see :func:`nofx.models.rl.baselines.sb3_kwargs`).

Checkpoints hold tensors and plain values only and are read with ``torch.load(weights_only=True)``,
so loading a model file never runs code from it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import gymnasium as gym
import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from nofx.domain.errors import ConfigError
from nofx.progress import Progress

CHECKPOINT_FORMAT = "nofx-dqn/1"


class DQNConfig(BaseModel):
    """Hyper-parameters (the ``[dqn]`` table of an RL config file)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    total_steps: int = Field(default=30_000, gt=0)
    learning_rate: float = Field(default=5e-4, gt=0)
    gamma: float = Field(default=0.95, gt=0, le=1)
    buffer_size: int = Field(default=30_000, gt=0)
    batch_size: int = Field(default=64, gt=0)
    learning_starts: int = Field(default=1_000, ge=0)
    train_freq: int = Field(default=4, gt=0)  # env steps between gradient steps
    target_update_interval: int = Field(default=1_000, gt=0)  # env steps between hard target copies
    exploration_fraction: float = Field(default=0.3, gt=0, le=1)  # share of steps epsilon decays over
    exploration_initial_eps: float = Field(default=1.0, ge=0, le=1)
    exploration_final_eps: float = Field(default=0.05, ge=0, le=1)
    max_grad_norm: float = Field(default=10.0, gt=0)
    hidden: tuple[int, ...] = (64, 64)
    double: bool = False  # SB3's DQN is not double; keep off for a like-for-like comparison
    eval_interval: int = Field(default=2_500, gt=0)  # env steps between validation checks


class QNetwork(nn.Module):
    def __init__(self, obs_dim: int, n_actions: int, hidden: tuple[int, ...]) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = obs_dim
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, n_actions))
        self.net = nn.Sequential(*layers)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs)


class ReplayBuffer:
    """Fixed-size circular buffer of transitions, sampled uniformly with the agent's generator."""

    def __init__(self, capacity: int, obs_dim: int) -> None:
        self.capacity = capacity
        self.obs = np.zeros((capacity, obs_dim), dtype=np.float32)
        self.next_obs = np.zeros((capacity, obs_dim), dtype=np.float32)
        self.actions = np.zeros(capacity, dtype=np.int64)
        self.rewards = np.zeros(capacity, dtype=np.float32)
        self.dones = np.zeros(capacity, dtype=np.float32)  # 1 only on termination, not truncation
        self._pos = 0
        self._full = False

    def __len__(self) -> int:
        return self.capacity if self._full else self._pos

    def add(self, obs: np.ndarray, action: int, reward: float, next_obs: np.ndarray, terminated: bool) -> None:
        k = self._pos
        self.obs[k], self.actions[k], self.rewards[k] = obs, action, reward
        self.next_obs[k], self.dones[k] = next_obs, float(terminated)
        self._pos = (k + 1) % self.capacity
        self._full = self._full or self._pos == 0

    def sample(self, rng: np.random.Generator, n: int) -> tuple[torch.Tensor, ...]:
        idx = rng.integers(0, len(self), size=n)
        return (
            torch.from_numpy(self.obs[idx]),
            torch.from_numpy(self.actions[idx]),
            torch.from_numpy(self.rewards[idx]),
            torch.from_numpy(self.next_obs[idx]),
            torch.from_numpy(self.dones[idx]),
        )


@dataclass
class TrainLog:
    steps: int = 0
    episodes: int = 0
    gradient_steps: int = 0
    episode_returns: list[float] = field(default_factory=list)
    validation: list[tuple[int, float]] = field(default_factory=list)  # (step, score)
    best_step: int | None = None


def linear_epsilon(cfg: DQNConfig, step: int) -> float:
    frac = min(1.0, step / (cfg.exploration_fraction * cfg.total_steps))
    return cfg.exploration_initial_eps + frac * (cfg.exploration_final_eps - cfg.exploration_initial_eps)


class DQNAgent:
    """Q-network, target network and optimiser; ``train`` runs the DQN loop on a gymnasium env."""

    def __init__(self, obs_dim: int, n_actions: int, config: DQNConfig | None = None, seed: int = 0,
                 metadata: dict[str, Any] | None = None) -> None:
        self.config = config or DQNConfig()
        self.obs_dim, self.n_actions, self.seed = obs_dim, n_actions, seed
        self.metadata: dict[str, Any] = dict(metadata or {})
        # initialisation depends on the seed only, without touching the caller's global torch RNG
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            self.q = QNetwork(obs_dim, n_actions, self.config.hidden)
        self.target = copy.deepcopy(self.q)
        self.optimizer = torch.optim.Adam(self.q.parameters(), lr=self.config.learning_rate)

    # --- acting ------------------------------------------------------------------------------
    @torch.no_grad()
    def q_values(self, obs: np.ndarray) -> np.ndarray:
        x = torch.as_tensor(np.asarray(obs, dtype=np.float32))
        return self.q(x.unsqueeze(0) if x.ndim == 1 else x).numpy()

    def act(self, obs: np.ndarray) -> int:
        """Greedy action (ties to the lowest index, i.e. towards holding)."""
        return int(np.argmax(self.q_values(obs)[0]))

    # --- learning ----------------------------------------------------------------------------
    def _gradient_step(self, buffer: ReplayBuffer, rng: np.random.Generator) -> float:
        cfg = self.config
        obs, actions, rewards, next_obs, dones = buffer.sample(rng, cfg.batch_size)
        with torch.no_grad():
            next_q_target = self.target(next_obs)
            if cfg.double:
                best = self.q(next_obs).argmax(dim=1, keepdim=True)
                next_q = next_q_target.gather(1, best).squeeze(1)
            else:
                next_q = next_q_target.max(dim=1).values
            target = rewards + cfg.gamma * (1.0 - dones) * next_q
        q = self.q(obs).gather(1, actions.unsqueeze(1)).squeeze(1)
        loss = nn.functional.smooth_l1_loss(q, target)
        self.optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(self.q.parameters(), cfg.max_grad_norm)
        self.optimizer.step()
        return loss.item()

    def train(
        self,
        env: gym.Env,
        validate: Callable[["DQNAgent"], float] | None = None,
        progress: bool = False,
    ) -> TrainLog:
        """Run ``config.total_steps`` environment steps. With ``validate`` (higher is better), the
        weights scoring best on it at the ``eval_interval`` checkpoints are kept at the end: model
        selection on the validation period, never on the test period."""
        # a 64-unit MLP gains nothing from intra-op threads; on a shared CPU they only contend
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return self._train(env, validate, progress)
        finally:
            torch.set_num_threads(threads)

    def _train(self, env: gym.Env, validate: Callable[["DQNAgent"], float] | None, progress: bool) -> TrainLog:
        cfg = self.config
        rng = np.random.default_rng(self.seed)
        env.action_space.seed(self.seed)
        buffer = ReplayBuffer(cfg.buffer_size, self.obs_dim)
        log = TrainLog()
        best_score, best_state = -np.inf, None
        obs, _ = env.reset(seed=self.seed)
        ep_return = 0.0
        with Progress("DQN train", cfg.total_steps, enabled=progress) as bar:
            for step in range(1, cfg.total_steps + 1):
                if rng.random() < linear_epsilon(cfg, step - 1):
                    action = int(rng.integers(self.n_actions))
                else:
                    action = self.act(obs)
                next_obs, reward, terminated, truncated, _ = env.step(action)
                buffer.add(obs, action, reward, next_obs, terminated)
                ep_return += reward
                obs = next_obs
                if terminated or truncated:
                    log.episodes += 1
                    log.episode_returns.append(ep_return)
                    obs, _ = env.reset()
                    ep_return = 0.0
                if step > cfg.learning_starts and step % cfg.train_freq == 0:
                    self._gradient_step(buffer, rng)
                    log.gradient_steps += 1
                if step % cfg.target_update_interval == 0:
                    self.target.load_state_dict(self.q.state_dict())
                if validate is not None and step % cfg.eval_interval == 0 and step > cfg.learning_starts:
                    score = float(validate(self))
                    log.validation.append((step, score))
                    if score > best_score:
                        best_score, best_state, log.best_step = score, copy.deepcopy(self.q.state_dict()), step
                bar.advance()
        log.steps = cfg.total_steps
        if best_state is not None:
            self.q.load_state_dict(best_state)
            self.target.load_state_dict(best_state)
        return log

    # --- persistence -------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Weights plus plain-value metadata (config, shapes, the env's lot and settings)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(
            {
                "format": CHECKPOINT_FORMAT,
                "state_dict": self.q.state_dict(),
                "obs_dim": self.obs_dim,
                "n_actions": self.n_actions,
                "seed": self.seed,
                "config": self.config.model_dump(mode="json"),
                "metadata": self.metadata,
            },
            path,
        )

    @classmethod
    def load(cls, path: str | Path) -> "DQNAgent":
        """Read a checkpoint with ``weights_only=True``: tensors and plain values only, no pickled code."""
        path = Path(path)
        if not path.exists():
            raise ConfigError("model file not found", file=str(path))
        try:
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises UnpicklingError / RuntimeError for foreign or unsafe files
            raise ConfigError(f"cannot read model file safely: {type(exc).__name__}", file=str(path)) from None
        if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
            raise ConfigError("not a nofx DQN checkpoint", file=str(path), expected=CHECKPOINT_FORMAT)
        agent = cls(int(ckpt["obs_dim"]), int(ckpt["n_actions"]), DQNConfig(**ckpt["config"]),
                    seed=int(ckpt["seed"]), metadata=ckpt.get("metadata") or {})
        agent.q.load_state_dict(ckpt["state_dict"])
        agent.target.load_state_dict(ckpt["state_dict"])
        return agent
