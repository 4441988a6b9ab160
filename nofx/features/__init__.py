"""Features computed from bars: causal technical indicators and the look-ahead checker."""
