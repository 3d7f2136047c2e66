"""Users, passwords, sessions, API tokens, login throttling and the request dependencies."""
