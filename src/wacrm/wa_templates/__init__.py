"""Message template management: create, edit, delete through the Graph API; status kept by webhooks."""
