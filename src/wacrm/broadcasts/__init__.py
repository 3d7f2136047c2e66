"""Broadcasts: an approved template sent to an audience through the bulk schedule."""
