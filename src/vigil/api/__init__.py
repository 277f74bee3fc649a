"""The HTTP and WebSocket edge: FastAPI app factory, authentication, JSON API under /api/v1."""
