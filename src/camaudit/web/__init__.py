"""The web platform: FastAPI app, server-rendered pages, REST API."""
