"""HTTP API: the FastAPI app, HTTP helpers, request/response models and routes."""
