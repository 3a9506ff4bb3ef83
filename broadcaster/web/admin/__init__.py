"""The staff side of `serve`: /admin/ web UI and /admin/api/ JSON API."""
