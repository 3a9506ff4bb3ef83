"""The HTTP side of `broadcaster serve`: generated files served from memory, public routes."""
