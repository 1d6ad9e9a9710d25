"""Discord extensions, one per feature; bot/client.py loads them by name at start-up."""
