"""The web layer: the only part of alphawire that imports Starlette, FastAPI or uvicorn."""
