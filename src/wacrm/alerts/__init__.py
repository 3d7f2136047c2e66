"""New-message alerts: the unread count of the tab title and what a notification says."""
