"""Inbox and chat queries, mark read, search."""
