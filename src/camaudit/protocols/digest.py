"""HTTP-style authentication shared by the HTTP, RTSP and ONVIF clients.

Parses ``WWW-Authenticate`` challenges (RFC 7235), builds ``Authorization`` values for Basic
(RFC 7617) and Digest (RFC 7616, and the RFC 2069 form without qop that old cameras still use).
Digest algorithms: MD5, MD5-sess, SHA-256, SHA-256-sess; qop "auth" only (auth-int never offered
alone by cameras).  Nothing here does I/O.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from dataclasses import dataclass, field
from urllib.request import parse_http_list, parse_keqv_list

_HASHES = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}
# Preference when a server offers several Digest challenges (RFC 7616 section 3.7).
_RANK = {"SHA-256": 2, "SHA-256-SESS": 2, "MD5": 1, "MD5-SESS": 1}
_SCHEME = re.compile(r"(?:^|,)\s*(Basic|Digest|Bearer|Negotiate|NTLM)\b", re.IGNORECASE)


@dataclass(slots=True)
class Challenge:
    """One authentication challenge as a server sent it."""

    scheme: str  # "basic" | "digest" | other lower-cased scheme
    params: dict[str, str] = field(default_factory=dict)

    @property
    def realm(self) -> str:
        return self.params.get("realm", "")

    @property
    def algorithm(self) -> str:
        return self.params.get("algorithm", "MD5").upper()

    @property
    def supported(self) -> bool:
        if self.scheme == "basic":
            return True
        if self.scheme != "digest" or "nonce" not in self.params:
            return False
        qops = self.qops
        return self.algorithm in _RANK and (not qops or "auth" in qops)

    @property
    def qops(self) -> list[str]:
        return [q.strip().lower() for q in self.params.get("qop", "").split(",") if q.strip()]

    @property
    def stale(self) -> bool:
        return self.params.get("stale", "").lower() == "true"


def parse_challenges(values: list[str] | str) -> list[Challenge]:
    """Parse one or several ``WWW-Authenticate`` header values into challenges.

    A single header may carry several challenges separated by commas; the scheme token
    (``Basic``/``Digest``...) starts each one.  Unparseable parts are skipped."""
    if isinstance(values, str):
        values = [values]
    out: list[Challenge] = []
    for value in values:
        value = value[:4096]
        starts = [m.start(1) for m in _SCHEME.finditer(value)]
        if not starts:
            word = value.strip().split(" ", 1)[0].lower()
            if word:
                out.append(Challenge(word))
            continue
        for i, start in enumerate(starts):
            part = value[start: starts[i + 1] if i + 1 < len(starts) else len(value)].strip(" ,")
            scheme, _, rest = part.partition(" ")
            out.append(Challenge(scheme.lower(), _params(rest)))
    return out


def _params(text: str) -> dict[str, str]:
    items = [i for i in parse_http_list(text) if "=" in i]
    try:
        kv = parse_keqv_list(items)
    except ValueError:
        return {}
    return {k.strip().lower(): v for k, v in kv.items()}


def pick(challenges: list[Challenge]) -> Challenge | None:
    """The challenge to answer: the strongest Digest we can compute, else Basic."""
    digests = [c for c in challenges if c.scheme == "digest" and c.supported]
    if digests:
        return max(digests, key=lambda c: _RANK[c.algorithm])
    return next((c for c in challenges if c.scheme == "basic"), None)


def basic(username: str, password: str) -> str:
    """``Authorization`` value for HTTP Basic (RFC 7617, UTF-8)."""
    token = base64.b64encode(f"{username}:{password}".encode("utf-8")).decode("ascii")
    return f"Basic {token}"


def _h(algorithm: str, text: str) -> str:
    return _HASHES[algorithm](text.encode("utf-8")).hexdigest()


def digest_response(*, algorithm: str, username: str, password: str, realm: str, nonce: str,
                    method: str, uri: str, qop: str | None, nc: str, cnonce: str) -> str:
    """The ``response`` value of RFC 7616 section 3.4.1 (RFC 2069 form when ``qop`` is None)."""
    algorithm = algorithm.upper()
    base = algorithm.removesuffix("-SESS")
    ha1 = _h(base, f"{username}:{realm}:{password}")
    if algorithm.endswith("-SESS"):
        ha1 = _h(base, f"{ha1}:{nonce}:{cnonce}")
    ha2 = _h(base, f"{method}:{uri}")
    if qop:
        return _h(base, f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    return _h(base, f"{ha1}:{nonce}:{ha2}")


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def digest(challenge: Challenge, username: str, password: str, method: str, uri: str, *,
           nc: int = 1, cnonce: str | None = None) -> str:
    """``Authorization`` value answering a Digest ``challenge`` (RFC 7616 / RFC 2617).

    ``uri`` is the request-target as sent: a path for HTTP, the full rtsp:// URL for RTSP."""
    p = challenge.params
    algorithm = challenge.algorithm
    qop = "auth" if "auth" in challenge.qops else None
    cnonce = cnonce or os.urandom(8).hex()
    ncs = f"{nc:08x}"
    response = digest_response(algorithm=algorithm, username=username, password=password,
                               realm=p.get("realm", ""), nonce=p["nonce"], method=method,
                               uri=uri, qop=qop, nc=ncs, cnonce=cnonce)
    parts = [f"username={_quote(username)}", f"realm={_quote(p.get('realm', ''))}",
             f"nonce={_quote(p['nonce'])}", f"uri={_quote(uri)}", f"response={_quote(response)}"]
    if "algorithm" in p:
        parts.append(f"algorithm={p['algorithm']}")
    if "opaque" in p:
        parts.append(f"opaque={_quote(p['opaque'])}")
    if qop:
        parts += [f"qop={qop}", f"nc={ncs}", f"cnonce={_quote(cnonce)}"]
    return "Digest " + ", ".join(parts)


def authorization(challenge: Challenge, username: str, password: str, method: str,
                  uri: str) -> str:
    """``Authorization`` value for whichever scheme ``challenge`` asks."""
    if challenge.scheme == "basic":
        return basic(username, password)
    return digest(challenge, username, password, method, uri)
