"""WhatsApp configurations (one per user), their secrets encrypted at rest."""
