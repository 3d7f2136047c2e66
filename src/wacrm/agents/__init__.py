"""Agents and their per-agent tables."""
