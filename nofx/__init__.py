"""nofx: AI-driven quantitative trading for China A-shares and Hong Kong stocks.

Layers (imports point down only): domain -> markets -> data -> features/models -> strategies
-> engine -> backtest/live -> persistence, messaging, api, cli.
"""

__version__ = "0.1.0"
