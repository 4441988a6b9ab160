"""Market data: reading and validating bars, adjustment, resampling, the wide panel the clock walks."""
