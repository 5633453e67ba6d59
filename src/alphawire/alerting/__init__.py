"""Alert delivery to outside services (Discord webhooks)."""
