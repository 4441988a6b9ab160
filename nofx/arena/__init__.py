"""The arena: AI traders and classic strategies competing on one lockstep replay (``nofx compete``)."""
