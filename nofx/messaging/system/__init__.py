"""``nofx system``: market data, the engine and each strategy as separate processes on the bus.

- :mod:`.spec`: what a system runs (endpoints, the run's data and rules, the traders), one JSON file
  every process reads;
- :mod:`.market_data`: the market-data service (replay feeds, the latest-quote snapshot);
- :mod:`.engine_service`: the engine process (risk, OMS, router, simulated exchange, ledger) for every
  trader;
- :mod:`.strategy_service`: one strategy process per trader;
- :mod:`.supervisor`: starts them, restarts the dead, reports their health, shuts them down.

See docs/system.md.
"""
