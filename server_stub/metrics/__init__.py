"""Prometheus metrics of the server (`/metrics`), read from the database so every serve process agrees."""
