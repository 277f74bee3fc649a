"""One module of routes per resource, each exposing ``router`` under the API prefix."""

API_PREFIX = "/api/v1"
