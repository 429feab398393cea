"""TLS handshake probe: negotiated version and cipher, and the device certificate's facts.

Cameras often still speak TLS 1.0 with 1024-bit self-signed certificates, so the client context
accepts everything the local OpenSSL can do (security level 0, no verification): we observe,
we do not trust.  Certificates are parsed with ``cryptography``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ssl
import warnings

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import NameOID

from camaudit.model import Observation
from camaudit.protocols._net import classify
from camaudit.scope import ScopeError, admit

VERSIONS: dict[str, ssl.TLSVersion] = {
    "TLSv1": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}
_HAS = {"TLSv1": ssl.HAS_TLSv1, "TLSv1.1": ssl.HAS_TLSv1_1, "TLSv1.2": ssl.HAS_TLSv1_2,
        "TLSv1.3": ssl.HAS_TLSv1_3}


def client_context(version: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    """A permissive client context: no verification, every protocol and cipher OpenSSL allows.

    With ``version`` the context offers that one protocol version only."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with contextlib.suppress(ssl.SSLError):
        ctx.set_ciphers("ALL:@SECLEVEL=0")
    with contextlib.suppress(ValueError), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # old versions on purpose
        ctx.minimum_version = version or ssl.TLSVersion.MINIMUM_SUPPORTED
        ctx.maximum_version = version or ssl.TLSVersion.MAXIMUM_SUPPORTED
    return ctx


def untestable_versions() -> list[str]:
    """Protocol versions the local OpenSSL cannot offer, so ``supported_versions`` skips them."""
    out = []
    for name, ver in VERSIONS.items():
        if not _HAS[name]:
            out.append(name)
            continue
        try:
            ctx = client_context(ver)
            if ctx.minimum_version != ver:
                out.append(name)
        except (ValueError, ssl.SSLError):
            out.append(name)
    return out


async def _handshake(address: str, port: int, ctx: ssl.SSLContext,
                     timeout: float) -> ssl.SSLObject:
    address = admit(address)
    async with asyncio.timeout(timeout):
        _, writer = await asyncio.open_connection(address, port, ssl=ctx,
                                                  ssl_handshake_timeout=timeout)
    obj = writer.get_extra_info("ssl_object")
    writer.close()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(writer.wait_closed(), 0.5)
    return obj


def _cn(name: x509.Name) -> str:
    attrs = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value)[:256] if attrs else ""


def _attrs(name: x509.Name, oid: x509.ObjectIdentifier) -> str:
    """Every value of one attribute (several OU are common), joined with ' | '."""
    return " | ".join(str(a.value)[:256] for a in name.get_attributes_for_oid(oid))[:512]


def _dn(name: x509.Name) -> str:
    """The whole distinguished name, RFC 4514 string (most specific first: CN=...,O=...,C=...)."""
    try:
        return name.rfc4514_string()[:1024]
    except ValueError:  # an attribute value cryptography cannot render
        return ""


def name_fields(prefix: str, name: x509.Name) -> dict[str, str]:
    """tls.<prefix> (full DN), tls.<prefix>_cn / _o / _ou of a certificate name."""
    return {f"tls.{prefix}": _dn(name), f"tls.{prefix}_cn": _cn(name),
            f"tls.{prefix}_o": _attrs(name, NameOID.ORGANIZATION_NAME),
            f"tls.{prefix}_ou": _attrs(name, NameOID.ORGANIZATIONAL_UNIT_NAME)}


def _key(cert: x509.Certificate) -> str:
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA-{key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC-{key.curve.name}"
    if isinstance(key, dsa.DSAPublicKey):
        return f"DSA-{key.key_size}"
    if isinstance(key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
        return type(key).__name__.removesuffix("PublicKey")
    return "unknown"


def cert_fields(der: bytes, now: dt.datetime | None = None) -> dict[str, str]:
    """tls.* fields describing a DER certificate."""
    cert = x509.load_der_x509_certificate(der)
    now = now or dt.datetime.now(dt.timezone.utc)
    self_signed = cert.subject == cert.issuer
    if self_signed:
        try:
            cert.verify_directly_issued_by(cert)
        except Exception:  # noqa: BLE001 - bad signature or unsupported key: not self-signed
            self_signed = False
    sans: list[str] = []
    with contextlib.suppress(x509.ExtensionNotFound):
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        sans = [str(v) for v in ext.get_values_for_type(x509.DNSName)]
        sans += [str(v) for v in ext.get_values_for_type(x509.IPAddress)]
    hash_alg = cert.signature_hash_algorithm
    return {
        **name_fields("subject", cert.subject),
        **name_fields("issuer", cert.issuer),
        "tls.self_signed": str(self_signed).lower(),
        "tls.not_before": cert.not_valid_before_utc.isoformat(),
        "tls.not_after": cert.not_valid_after_utc.isoformat(),
        "tls.expired": str(cert.not_valid_after_utc < now).lower(),
        "tls.san": ",".join(sans)[:1024],
        "tls.key": _key(cert),
        "tls.signature_hash": hash_alg.name if hash_alg else "",
        "tls.serial": format(cert.serial_number, "x"),
    }


async def probe(address: str, port: int, *, timeout: float) -> Observation:
    """One handshake: negotiated version and cipher plus the certificate's facts."""
    obs = Observation(address, port, "tls")
    try:
        address = admit(address)
    except ScopeError as exc:
        obs.error, obs.raw = "out-of-scope", str(exc)[:200]
        return obs
    try:
        obj = await _handshake(address, port, client_context(), timeout)
        cipher = obj.cipher()
        obs.fields["tls.version"] = obj.version() or ""
        obs.fields["tls.cipher"] = cipher[0] if cipher else ""
        der = obj.getpeercert(binary_form=True)
        if der:
            obs.fields.update(cert_fields(der))
            obs.raw = obs.fields["tls.subject_cn"]
    except ValueError as exc:  # certificate that cryptography cannot parse
        obs.error = "malformed"
        obs.raw = str(exc)[:200]
    except (ssl.SSLError, OSError, TimeoutError, asyncio.TimeoutError) as exc:
        obs.error = "handshake" if isinstance(exc, ssl.SSLError) else classify(exc)
        obs.raw = str(exc)[:200]
    return obs


async def supported_versions(address: str, port: int, *, timeout: float) -> list[str]:
    """Protocol versions the server accepts, one handshake each (TLSv1 .. TLSv1.3).

    Versions the local OpenSSL cannot offer are skipped: see ``untestable_versions``.
    ``timeout`` bounds all the handshakes together."""
    skip = set(untestable_versions())
    out: list[str] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    for name, ver in VERSIONS.items():
        left = deadline - loop.time()
        if name in skip or left <= 0:
            continue
        with contextlib.suppress(ssl.SSLError, OSError, TimeoutError, ValueError):  # ScopeError
            obj = await _handshake(address, port, client_context(ver), left)
            if obj.version() == name:
                out.append(name)
    return out
