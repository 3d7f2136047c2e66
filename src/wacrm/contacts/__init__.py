"""Contacts: CSV import (web and CLI) and the customers' marketing opt-in."""
