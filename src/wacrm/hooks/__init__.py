"""Outgoing webhooks: signed event deliveries to other systems (docs/integrations.md)."""
