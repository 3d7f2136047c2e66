"""Away messages outside business hours and greetings for first messages."""
