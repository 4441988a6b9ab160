"""AI (LLM) traders, the pure part: decision schema, tolerant parser, point-in-time context, contamination
guard, limits in code, the sans-I/O decision cycle and prompt templates. The model call itself is made by
a driver in ``nofx.ai``."""
