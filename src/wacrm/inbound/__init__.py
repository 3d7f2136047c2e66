"""Inbound WhatsApp: the webhook, its journal, processing and replay."""
