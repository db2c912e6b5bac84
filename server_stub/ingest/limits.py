"""Ingest limits shared by the API models and the command line (kept free of imports: the CLI starts fast)."""

HARD_MAX_READINGS = 1000  # schema ceiling; the configured per-batch cap (serve --max-readings) is below it
