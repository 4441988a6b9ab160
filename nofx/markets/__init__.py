"""Per-exchange market rules as effective-dated data (lots, price limits, ticks, T+1, fees, sessions, calendars)."""
