"""Features computed from bars: causal technical indicators, factors, labels and the look-ahead checker
(``causality.assert_causal``). Everything here must be causal: row t uses data up to t only."""
