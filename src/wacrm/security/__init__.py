"""Secrets at rest: encryption of stored credentials."""
