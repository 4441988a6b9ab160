"""Strategies emit order requests from what the clock shows them; no I/O."""
