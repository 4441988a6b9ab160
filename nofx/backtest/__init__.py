"""Backtesting: a simulated clock over bar timestamps driving the shared engine and a simulated exchange."""
