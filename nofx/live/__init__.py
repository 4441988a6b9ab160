"""Paper and live trading: the same kernel and strategies as the backtest, a paced clock, a venue."""
