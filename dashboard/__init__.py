"""Dashboard layer: the FastAPI app (REST, live push, operator UI)."""
