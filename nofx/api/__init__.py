"""Placeholder for the api layer (next milestones); kept so the layer contract names it."""
