"""Server side of the logins the emulated devices accept: HTTP/RTSP Basic and Digest
(RFC 7617 / RFC 7616 / RFC 2326), per-source lockout, and the attempt counter that tests read
from outside the lab process (``attempts.json`` in the state directory, rewritten on change)."""

from __future__ import annotations

import base64
import collections
import hashlib
import hmac
import json
import os
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from camaudit.lab.fleet import Lockout

NONCE_LIFETIME = 300.0  # seconds a Digest nonce stays fresh


class AttemptRecorder:
    """Counts login attempts per device address and protocol, and rewrites a JSON file (atomic
    rename) on every change, before the device answers the attempt."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.data: dict[str, dict[str, dict[str, Any]]] = {}
        self.seq = 0

    def record(self, address: str, protocol: str, username: str, outcome: str) -> None:
        """``outcome``: success | failure | locked (refused because the source is locked)."""
        entry = self.data.setdefault(address, {}).setdefault(
            protocol, {"attempts": 0, "success": 0, "failure": 0, "locked": 0, "users": {}})
        entry["attempts"] += 1
        entry[outcome] += 1
        entry["users"][username] = entry["users"].get(username, 0) + 1
        if outcome == "failure":  # failed logins per account: what an account lockout counts
            fails = entry.setdefault("failures_by_user", {})
            fails[username] = fails.get(username, 0) + 1
        self.seq += 1
        self.flush()

    def flush(self) -> None:
        if self.path is None:
            return
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"seq": self.seq, "devices": self.data}), "utf-8")
        os.replace(tmp, self.path)


class LockoutState:
    """One device's lock: failures per source address inside a sliding window."""

    def __init__(self, policy: Lockout | None) -> None:
        self.policy = policy
        self._fails: dict[str, collections.deque[float]] = {}
        self._locked_until: dict[str, float] = {}

    def remaining(self, source: str) -> float:
        """Seconds the source stays locked (0 when free)."""
        until = self._locked_until.get(source, 0.0)
        left = until - time.monotonic()
        return left if left > 0 else 0.0

    def failed(self, source: str) -> None:
        if self.policy is None:
            return
        now = time.monotonic()
        q = self._fails.setdefault(source, collections.deque())
        q.append(now)
        while q and now - q[0] > self.policy.window:
            q.popleft()
        if len(q) >= self.policy.threshold:
            self._locked_until[source] = now + self.policy.duration
            q.clear()

    def succeeded(self, source: str) -> None:
        self._fails.pop(source, None)

    def retries_left(self, source: str) -> int:
        if self.policy is None:
            return 0
        return max(0, self.policy.threshold - len(self._fails.get(source, ())))


@dataclass
class Gate:
    """Everything one device needs to judge a login: its accounts per service, its lock and
    the shared recorder."""

    address: str
    recorder: AttemptRecorder
    lock: LockoutState
    accounts: dict[str, dict[str, str]] = field(default_factory=dict)  # service -> user -> pw

    def check(self, service: str, source: str, username: str, password: str | None,
              verify: Any = None) -> str:
        """Judge one attempt. ``verify(password) -> bool`` replaces the plain comparison for
        hashed schemes. Returns success | failure | locked, and records it."""
        if self.lock.remaining(source) > 0:
            outcome = "locked"
        else:
            known = self.accounts.get(service, {}).get(username)
            if known is not None and (verify(known) if verify else
                                      hmac.compare_digest(known.encode(), (password or "").encode())):
                outcome = "success"
                self.lock.succeeded(source)
            else:
                outcome = "failure"
                self.lock.failed(source)
        self.recorder.record(self.address, service, username, outcome)
        return outcome


# --------------------------------------------------------------------------- HTTP-style auth

_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))')


def parse_auth_params(text: str) -> dict[str, str]:
    return {m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3))
            for m in _PARAM.finditer(text)}


def _md5(s: str) -> str:
    return hashlib.md5(s.encode("utf-8")).hexdigest()


class DigestRealm:
    """Issues and checks RFC 7616 MD5 Digest challenges (qop=auth, or RFC 2069 style without
    qop as many RTSP servers do). Nonces are stateless: time + HMAC."""

    def __init__(self, realm: str, *, qop: bool = True, basic_too: bool = False,
                 stale_upper: bool = True) -> None:
        self.realm = realm
        self.qop = qop
        self.basic_too = basic_too
        self.stale_upper = stale_upper
        self._key = secrets.token_bytes(16)

    def nonce(self) -> str:
        ts = f"{int(time.time()):x}"
        mac = hmac.new(self._key, ts.encode(), hashlib.sha256).hexdigest()[:32]
        return f"{mac}{ts}"

    def _fresh(self, nonce: str) -> bool:
        mac, ts = nonce[:32], nonce[32:]
        good = hmac.new(self._key, ts.encode(), hashlib.sha256).hexdigest()[:32]
        try:
            age = time.time() - int(ts, 16)
        except ValueError:
            return False
        return hmac.compare_digest(mac, good) and 0 <= age <= NONCE_LIFETIME

    def challenges(self, stale: bool = False) -> list[str]:
        st = ("TRUE" if stale else "FALSE") if self.stale_upper else ("true" if stale else "false")
        if self.qop:
            digest = f'Digest qop="auth", realm="{self.realm}", nonce="{self.nonce()}", stale="{st}"'
        else:
            digest = f'Digest realm="{self.realm}", nonce="{self.nonce()}", stale="{st}"'
        out = [digest]
        if self.basic_too:
            out.append(f'Basic realm="{self.realm}"')
        return out

    def verify(self, gate: Gate, service: str, source: str, method: str,
               authorization: str | None) -> tuple[str, str]:
        """Returns (outcome, username); outcome is none (no credential sent), stale,
        success, failure or locked."""
        if not authorization:
            return "none", ""
        scheme, _, rest = authorization.partition(" ")
        if scheme.lower() == "basic" and self.basic_too:
            try:
                user, _, pw = base64.b64decode(rest.strip(), validate=True).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return "failure", ""
            return gate.check(service, source, user, pw), user
        if scheme.lower() != "digest":
            return "none", ""
        p = parse_auth_params(rest)
        user, nonce, uri, resp = p.get("username", ""), p.get("nonce", ""), p.get("uri", ""), p.get("response", "")
        if not self._fresh(nonce):
            return "stale", user

        def ok(password: str) -> bool:
            ha1 = _md5(f"{user}:{self.realm}:{password}")
            ha2 = _md5(f"{method}:{uri}")
            if p.get("qop"):
                want = _md5(f"{ha1}:{nonce}:{p.get('nc', '')}:{p.get('cnonce', '')}:{p['qop']}:{ha2}")
            else:
                want = _md5(f"{ha1}:{nonce}:{ha2}")
            return hmac.compare_digest(want, resp.lower())

        return gate.check(service, source, user, None, verify=ok), user


class BasicRealm:
    """RFC 7617 Basic only (what some embedded web servers still ask for)."""

    def __init__(self, realm: str) -> None:
        self.realm = realm

    def challenges(self, stale: bool = False) -> list[str]:
        return [f'Basic realm="{self.realm}"']

    def verify(self, gate: Gate, service: str, source: str, method: str,
               authorization: str | None) -> tuple[str, str]:
        if not authorization or not authorization.lower().startswith("basic "):
            return "none", ""
        try:
            user, _, pw = base64.b64decode(authorization[6:].strip(), validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return "failure", ""
        return gate.check(service, source, user, pw), user


def wsse_digest(nonce_b64: str, created: str, password: str) -> str:
    """ONVIF WS-UsernameToken PasswordDigest: Base64(SHA1(nonce + created + password))."""
    raw = base64.b64decode(nonce_b64)
    return base64.b64encode(hashlib.sha1(raw + created.encode() + password.encode()).digest()).decode()
