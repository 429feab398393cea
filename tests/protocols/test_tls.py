"""TLS probe against local TLS servers with generated camera-like certificates."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import ssl
import time
import warnings

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from camaudit.protocols import tls

ADDR = "127.0.0.6"


def make_cert(tmp_path, *, cn: str, days: int, self_signed: bool = True, bits: int = 2048,
              name: x509.Name | None = None):
    """A cert like the ones cameras ship (self-signed, CN = address), or CA-issued."""
    now = dt.datetime.now(dt.timezone.utc)
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    name = name or x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    issuer_key, issuer = key, name
    if not self_signed:
        issuer_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")])
    start = now - dt.timedelta(days=400) if days < 0 else now - dt.timedelta(days=1)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer)
            .public_key(key.public_key()).serial_number(0x1234abcd)
            .not_valid_before(start).not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName(
                [x509.DNSName("camera.local"), x509.IPAddress(ipaddress.ip_address(ADDR))]),
                critical=False)
            .sign(issuer_key, hashes.SHA256()))
    cert_path, key_path = tmp_path / f"{cn}.crt", tmp_path / f"{cn}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.TraditionalOpenSSL,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@contextlib.asynccontextmanager
async def tls_server(cert, key, *, versions=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.set_ciphers("ALL:@SECLEVEL=0")
    ctx.load_cert_chain(cert, key)
    if versions:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version, ctx.maximum_version = versions

    async def handle(reader, writer):
        with contextlib.suppress(Exception):
            await reader.read(100)
        writer.close()

    server = await asyncio.start_server(handle, ADDR, 0, ssl=ctx)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def test_self_signed_camera_cert(tmp_path):
    cert, key = make_cert(tmp_path, cn="192.168.1.64", days=3650, bits=1024)
    async with tls_server(cert, key) as port:
        obs = await tls.probe(ADDR, port, timeout=3)
    f = obs.fields
    assert obs.error is None and obs.protocol == "tls"
    assert f["tls.version"] == "TLSv1.3" and f["tls.cipher"]
    assert f["tls.subject_cn"] == "192.168.1.64" == f["tls.issuer_cn"]
    assert f["tls.self_signed"] == "true" and f["tls.expired"] == "false"
    assert f["tls.san"] == f"camera.local,{ADDR}"
    assert f["tls.key"] == "RSA-1024" and f["tls.signature_hash"] == "sha256"
    assert dt.datetime.fromisoformat(f["tls.not_after"]) > dt.datetime.now(dt.timezone.utc)


async def test_full_subject_and_issuer_with_organisation_and_units(tmp_path):
    """The whole DN (RFC 4514) and its O / OU / CN parts, two OUs joined: what names a vendor."""
    name = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ZheJiang Dahua Technology CO.,LTD."),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "NVR"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Video"),
        x509.NameAttribute(NameOID.COMMON_NAME, "NVR"),
    ])
    cert, key = make_cert(tmp_path, cn="NVR", days=30, name=name)
    async with tls_server(cert, key) as port:
        obs = await tls.probe(ADDR, port, timeout=3)
    f = obs.fields
    assert f["tls.subject"] == f["tls.issuer"]
    assert f["tls.subject"] == "CN=NVR,OU=Video,OU=NVR,O=ZheJiang Dahua Technology CO.\\,LTD.,C=CN"
    assert f["tls.subject_o"] == "ZheJiang Dahua Technology CO.,LTD." == f["tls.issuer_o"]
    assert f["tls.subject_ou"] == "NVR | Video" and f["tls.subject_cn"] == "NVR"
    from camaudit.identify import identify
    assert identify([obs]).vendor == "Dahua"


async def test_expired_ca_issued_cert(tmp_path):
    cert, key = make_cert(tmp_path, cn="nvr", days=-30, self_signed=False)
    async with tls_server(cert, key, versions=(ssl.TLSVersion.TLSv1_2,
                                               ssl.TLSVersion.TLSv1_2)) as port:
        obs = await tls.probe(ADDR, port, timeout=3)
    assert obs.fields["tls.version"] == "TLSv1.2"
    assert obs.fields["tls.self_signed"] == "false" and obs.fields["tls.issuer_cn"] == "Test CA"
    assert obs.fields["tls.expired"] == "true"


async def test_supported_versions(tmp_path):
    cert, key = make_cert(tmp_path, cn="cam", days=30)
    async with tls_server(cert, key, versions=(ssl.TLSVersion.TLSv1,
                                               ssl.TLSVersion.TLSv1_2)) as port:
        versions = await tls.supported_versions(ADDR, port, timeout=5)
    testable = [v for v in ("TLSv1", "TLSv1.1", "TLSv1.2") if v not in tls.untestable_versions()]
    assert versions == testable


async def test_plain_tcp_and_silent_server_end_within_deadline():
    async def silent(reader, writer):
        await asyncio.sleep(10)

    async def garbage(reader, writer):
        writer.write(b"SSH-2.0-dropbear\r\n" + bytes(range(256)))
        await writer.drain()
        writer.close()

    for handler, errors in ((silent, {"timeout"}), (garbage, {"handshake", "reset"})):
        server = await asyncio.start_server(handler, ADDR, 0)
        port = server.sockets[0].getsockname()[1]
        t0 = time.monotonic()
        obs = await tls.probe(ADDR, port, timeout=1)
        assert time.monotonic() - t0 < 2
        assert obs.error in errors, obs
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("port", [9])
async def test_refused(port):
    assert (await tls.probe("127.0.0.7", port, timeout=1)).error == "refused"
    assert await tls.supported_versions("127.0.0.7", port, timeout=1) == []
