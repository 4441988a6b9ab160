"""Placeholder for the messaging layer (next milestones); kept so the layer contract names it."""
