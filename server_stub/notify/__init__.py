"""Notify: e-mail and other notifications (to come)."""
