"""Portal: the client-facing pages (to come)."""
