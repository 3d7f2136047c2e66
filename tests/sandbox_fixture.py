"""The `sandbox` fixture: a running WhatsApp sandbox on loopback (filled in by the sandbox work)."""
