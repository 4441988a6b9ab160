"""stable-baselines3's DQN trained on the same environment, budget and hyper-parameters as
:class:`~nofx.models.rl.dqn.DQNAgent`, with the same validation-based model selection: the reference
that ``nofx rl eval`` compares against."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Callable

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import DQN
from stable_baselines3.common.callbacks import BaseCallback

from nofx.domain.errors import ConfigError
from nofx.models.rl.dqn import DQNConfig
from nofx.models.rl.evaluate import Policy


def sb3_kwargs(cfg: DQNConfig) -> dict[str, Any]:
    """SB3 DQN keyword arguments equal to ``cfg`` (hard target update: tau = 1)."""
    return {
        "learning_rate": cfg.learning_rate,
        "buffer_size": cfg.buffer_size,
        "learning_starts": cfg.learning_starts,
        "batch_size": cfg.batch_size,
        "tau": 1.0,
        "gamma": cfg.gamma,
        "train_freq": cfg.train_freq,
        "gradient_steps": 1,
        "target_update_interval": cfg.target_update_interval,
        "exploration_fraction": cfg.exploration_fraction,
        "exploration_initial_eps": cfg.exploration_initial_eps,
        "exploration_final_eps": cfg.exploration_final_eps,
        "max_grad_norm": cfg.max_grad_norm,
        "policy_kwargs": {"net_arch": list(cfg.hidden)},
    }


def sb3_policy(model: DQN) -> Policy:
    return lambda obs: int(model.predict(obs, deterministic=True)[0])


class _KeepBestOnValidation(BaseCallback):
    def __init__(self, cfg: DQNConfig, validate: Callable[[Policy], float], progress: Callable[[], None] | None):
        super().__init__()
        self.cfg, self.validate, self.tick = cfg, validate, progress
        self.best_score = -np.inf
        self.best_state: dict | None = None
        self.best_step: int | None = None

    def _on_step(self) -> bool:
        n = self.num_timesteps
        if self.tick is not None:
            self.tick()
        if n % self.cfg.eval_interval == 0 and n > self.cfg.learning_starts:
            score = float(self.validate(sb3_policy(self.model)))
            if score > self.best_score:
                self.best_score, self.best_step = score, n
                self.best_state = copy.deepcopy(self.model.policy.state_dict())
        return True


def train_sb3_dqn(
    env: gym.Env,
    cfg: DQNConfig,
    seed: int,
    validate: Callable[[Policy], float] | None = None,
    progress: Callable[[], None] | None = None,
) -> tuple[DQN, int | None]:
    """Train SB3's DQN for ``cfg.total_steps``; returns the model (best validation weights restored
    when ``validate`` is given) and the step they came from."""
    model = DQN("MlpPolicy", env, seed=seed, device="cpu", verbose=0, **sb3_kwargs(cfg))
    callback = _KeepBestOnValidation(cfg, validate or (lambda _p: 0.0), progress)
    model.learn(total_timesteps=cfg.total_steps, callback=callback)
    if validate is not None and callback.best_state is not None:
        model.policy.load_state_dict(callback.best_state)
        return model, callback.best_step
    return model, None


def save_sb3_policy(model: DQN, path: str | Path) -> None:
    """Save the policy's weights only (SB3's own ``.zip`` format pickles Python objects)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.policy.state_dict(), path)


def load_sb3_policy(path: str | Path, env: gym.Env, cfg: DQNConfig) -> DQN:
    """Rebuild an SB3 DQN with ``cfg``'s architecture and load weights saved by :func:`save_sb3_policy`."""
    path = Path(path)
    if not path.exists():
        raise ConfigError("SB3 model file not found", file=str(path))
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ConfigError(f"cannot read SB3 weights safely: {type(exc).__name__}", file=str(path)) from None
    model = DQN("MlpPolicy", env, device="cpu", verbose=0, **sb3_kwargs(cfg))
    model.policy.load_state_dict(state)
    return model
