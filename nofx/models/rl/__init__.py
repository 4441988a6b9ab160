"""Reinforcement learning: a gymnasium environment that trades real bars under nofx's market rules,
and a DQN agent trained on it (used in the backtester by the ``rl_dqn`` strategy)."""
