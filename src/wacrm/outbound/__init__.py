"""Outbound WhatsApp: sending through the job queue, errors, the 24 h window, rate limits, templates."""
