"""Media: the store, the download job, serving files to the agent's users."""
