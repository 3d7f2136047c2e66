"""Orders: line items, totals, the status workflow and its history, lists, CSV export."""
