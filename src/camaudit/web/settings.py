"""Settings of the web application, from the environment (``Settings.from_env``) or given."""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass, field

log = logging.getLogger("camaudit.web")
WEAK_SECRETS = {"", "changeme", "change-me", "secret", "camaudit", "dev", "test"}


class SettingsError(ValueError):
    pass


@dataclass
class Settings:
    db_url: str | None = None  # None: CAMAUDIT_DB or the user's SQLite file
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    secure_cookies: bool = True  # Secure flag: HTTPS only (turn off only for http://127.0.0.1)
    inproc_worker: bool = True  # the embedded worker thread, when no broker is set
    tick_seconds: float = 30.0
    max_upload: int = 10 * 1024 * 1024  # bytes of any request body
    oidc_issuer: str = ""  # e.g. https://sso.province.example/realms/x (discovery document below)
    oidc_client_id: str = ""
    oidc_client_secret: str = ""

    def __post_init__(self) -> None:
        if self.secret_key.strip().lower() in WEAK_SECRETS or len(self.secret_key) < 16:
            raise SettingsError("CAMAUDIT_SECRET_KEY is a default or too short (give 16+ random characters)")
        if self.max_upload <= 0:
            raise SettingsError("the upload limit must be positive")

    @classmethod
    def for_demo(cls, db_url: str) -> "Settings":
        """One machine on http://127.0.0.1: no Secure flag, the in-process worker ticking often."""
        return cls(db_url=db_url, secure_cookies=False, tick_seconds=5.0)

    @classmethod
    def from_env(cls) -> "Settings":
        env = os.environ
        secret = env.get("CAMAUDIT_SECRET_KEY")
        if not secret:
            log.warning("CAMAUDIT_SECRET_KEY is not set: a random key is used (OIDC logins in flight are "
                        "lost at restart; sessions are in the database and survive)")
            secret = secrets.token_urlsafe(32)
        return cls(db_url=env.get("CAMAUDIT_DB") or None, secret_key=secret,
                   secure_cookies=env.get("CAMAUDIT_INSECURE_COOKIES", "") not in ("1", "true", "yes"),
                   inproc_worker=not env.get("CAMAUDIT_BROKER"),
                   max_upload=int(env.get("CAMAUDIT_MAX_UPLOAD", str(10 * 1024 * 1024))),
                   oidc_issuer=env.get("CAMAUDIT_OIDC_ISSUER", ""),
                   oidc_client_id=env.get("CAMAUDIT_OIDC_CLIENT_ID", ""),
                   oidc_client_secret=env.get("CAMAUDIT_OIDC_CLIENT_SECRET", ""))
