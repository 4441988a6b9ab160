"""Value types of the trading domain. No I/O, no imports from other nofx layers."""
