"""Per-user preferences: language, time zone, new-message alerts (sound, desktop notifications)."""
