"""Reports: the dashboard's figures over a date range, for one agent or all of them."""
