"""Routes that need no permission (everything else must carry a ``scoped_for`` marker; the
authorisation-matrix test fails on a route that has neither)."""

PUBLIC: set[tuple[str, str]] = {
    ("GET", "/login"), ("POST", "/login"), ("POST", "/logout"), ("GET", "/healthz"),
    ("GET", "/auth/oidc/login"), ("GET", "/auth/oidc/callback"),
    ("GET", "/openapi.json"), ("GET", "/docs"), ("GET", "/docs/oauth2-redirect"), ("GET", "/redoc"),
    ("HEAD", "/openapi.json"), ("HEAD", "/docs"), ("HEAD", "/docs/oauth2-redirect"), ("HEAD", "/redoc"),
}
