"""Single sign-on through Authlib against a fake OpenID Connect provider on 127.75.10.1:
discovery, authorisation code, an RS256 ID token checked against the provider's JWKS.  Roles
stay local: an identity nobody linked to a user does not log in."""

from __future__ import annotations

import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey
from fastapi.testclient import TestClient
from platform_world import PASSWORD  # noqa: F401  (cheap hashing)

from camaudit.store import admin, users
from camaudit.store.platform import Platform
from camaudit.web.app import create_app
from camaudit.web.settings import Settings

HOST = "127.75.10.1"
CLIENT_ID, CLIENT_SECRET = "camaudit", "s3cret-client"


class Provider:
    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1"})
        self.codes: dict[str, dict[str, str]] = {}
        self.sub = "agent-42"
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a) -> None:
                pass

            def _json(self, data: dict) -> None:
                body = json.dumps(data).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                url = urlparse(self.path)
                if url.path == "/.well-known/openid-configuration":
                    self._json({"issuer": provider.iss, "authorization_endpoint": f"{provider.iss}/authorize",
                                "token_endpoint": f"{provider.iss}/token", "jwks_uri": f"{provider.iss}/jwks",
                                "response_types_supported": ["code"], "subject_types_supported": ["public"],
                                "id_token_signing_alg_values_supported": ["RS256"]})
                elif url.path == "/jwks":
                    self._json({"keys": [provider.key.as_dict(private=False)]})
                elif url.path == "/authorize":
                    q = {k: v[0] for k, v in parse_qs(url.query).items()}
                    code = secrets.token_urlsafe(8)
                    provider.codes[code] = q
                    self.send_response(302)
                    self.send_header("Location", f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q['state']})}")
                    self.end_headers()
                else:
                    self.send_error(404)

            def do_POST(self) -> None:
                form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
                q = provider.codes.pop(form.get("code", [""])[0], None)
                if q is None:
                    self.send_error(400)
                    return
                now = int(time.time())
                claims = {"iss": provider.iss, "sub": provider.sub, "aud": CLIENT_ID, "iat": now, "exp": now + 300,
                          "nonce": q.get("nonce")}
                token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, provider.key)
                self._json({"access_token": "at", "token_type": "Bearer", "expires_in": 300, "id_token": token})

        self.server = ThreadingHTTPServer((HOST, 0), Handler)
        self.iss = f"http://{HOST}:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def provider():
    p = Provider()
    yield p
    p.server.shutdown()
    p.server.server_close()


def _sso(client: TestClient) -> object:
    r = client.get("/auth/oidc/login", follow_redirects=False)
    assert r.status_code == 302 and r.headers["location"].startswith("http://127.75.10.1")
    import httpx

    back = httpx.get(r.headers["location"], follow_redirects=False)  # the user at the provider
    assert back.status_code == 302
    cb = urlparse(back.headers["location"])
    return client.get(f"{cb.path}?{cb.query}", follow_redirects=False)


def test_oidc_login_maps_a_linked_identity_to_its_local_user(provider, tmp_path):
    url = f"sqlite:///{tmp_path / 'oidc.sqlite'}"
    p = Platform(url)
    made = admin.apply(p, {"organisations": [{"name": "Tỉnh SSO"}]})
    with p.system("admin", "user:admin") as db:
        u = users.create_user(db, username="sso-user", password=None, oidc=(provider.iss, "agent-42"))
        users.grant(db, user_id=u["id"], org_id=made["organisations"]["Tỉnh SSO"], role="provincial_viewer")
    app = create_app(Settings(db_url=url, inproc_worker=False, oidc_issuer=provider.iss, oidc_client_id=CLIENT_ID,
                              oidc_client_secret=CLIENT_SECRET))
    with TestClient(app, base_url="https://testserver") as c:
        assert c.get("/api/v1/me").status_code == 401
        r = _sso(c)
        assert r.status_code == 303 and r.headers["location"] == "/", r.text
        me = c.get("/api/v1/me").json()
        assert me["username"] == "sso-user" and me["roles"][0]["role"] == "provincial_viewer"
    provider.sub = "stranger"
    with TestClient(app, base_url="https://testserver") as c:
        r = _sso(c)
        assert r.status_code == 303 and r.headers["location"] == "/login?error=sso"
        assert c.get("/api/v1/me").status_code == 401
        # a forged callback (no state of ours) is refused
        r = c.get("/auth/oidc/callback?code=x&state=forged", follow_redirects=False)
        assert r.status_code == 400
    assert p.verify_audit().ok
