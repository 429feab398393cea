"""SNMP client: real snmpd (private config) and hostile fake agents."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from pyasn1.codec.ber import decoder, encoder
from pysnmp.proto import api

from camaudit.protocols import snmp

HOST = "127.44.0.1"
SNMPD_HOST = "127.44.0.2"


def _free_udp_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def snmpd(tmp_path_factory: pytest.TempPathFactory):
    """net-snmp's snmpd on SNMPD_HOST with community "public" only, nothing read from /etc."""
    if not shutil.which("snmpd"):
        if os.environ.get("CI") == "true":
            pytest.fail("snmpd missing and CI=true")
        pytest.skip("snmpd not installed (apt-get install snmpd)")
    work: Path = tmp_path_factory.mktemp("snmpd")
    conf = work / "snmpd.conf"
    conf.write_text("rocommunity public 127.0.0.0/8\n"
                    "sysDescr Hikvision IP Camera DS-2CD2042WD-I\n"
                    "sysObjectID .1.3.6.1.4.1.39165.1.1\n"
                    "sysName lobby-cam\nsysContact security@example.invalid\n"
                    "sysLocation lab\n")
    port = _free_udp_port(SNMPD_HOST)
    env = {**os.environ, "MIBS": "", "MIBDIRS": str(work), "SNMP_PERSISTENT_DIR": str(work / "persist")}
    proc = subprocess.Popen(["snmpd", "-f", "-Lo", "-C", "-c", str(conf), "-p", str(work / "pid"),
                             f"udp:{SNMPD_HOST}:{port}"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if f"{SNMPD_HOST}:{port}" in subprocess.run(["ss", "-uln"], capture_output=True, text=True).stdout:
            break
        time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("snmpd did not start")
    yield port
    proc.terminate()
    proc.wait(5)


async def test_real_snmpd(snmpd: int) -> None:
    obs = await snmp.probe(SNMPD_HOST, port=snmpd, communities=("private", "public"), timeout=2)
    assert obs is not None and obs.error is None, obs
    assert obs.transport == "udp" and obs.protocol == "snmp"
    assert obs.fields["snmp.community"] == "public" and obs.fields["snmp.version"] == "2c"
    assert obs.fields["snmp.sysdescr"] == "Hikvision IP Camera DS-2CD2042WD-I"
    assert obs.fields["snmp.sysobjectid"] == "1.3.6.1.4.1.39165.1.1"
    assert obs.fields["snmp.enterprise"] == "39165"  # IANA private enterprise number
    assert obs.fields["snmp.sysname"] == "lobby-cam"
    assert obs.fields["snmp.syscontact"] == "security@example.invalid"


async def test_real_snmpd_wrong_communities(snmpd: int) -> None:
    t0 = time.monotonic()
    assert await snmp.probe(SNMPD_HOST, port=snmpd, communities=("private", "admin"), timeout=1) is None
    assert time.monotonic() - t0 < 1.5


# ------------------------------------------------------------------ fake agents

class _Agent(asyncio.DatagramProtocol):
    def __init__(self, answer: Callable[[bytes], list[bytes]]) -> None:
        self.answer = answer
        self.seen: list[bytes] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:  # type: ignore[override]
        self.seen.append(data)
        for reply in self.answer(data):
            assert self.transport is not None
            self.transport.sendto(reply, addr)


@contextlib.asynccontextmanager
async def agent(answer: Callable[[bytes], list[bytes]]) -> AsyncIterator[tuple[int, _Agent]]:
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(lambda: _Agent(answer), local_addr=(HOST, 0))
    try:
        yield transport.get_extra_info("sockname")[1], proto
    finally:
        transport.close()


def respond(data: bytes, *, only_version: int | None = None, community: str = "public",
            request_id_delta: int = 0) -> list[bytes]:
    """A well-formed answer to a GetRequest, like an agent that knows ``community``."""
    version = api.decodeMessageVersion(data)
    if only_version is not None and version != only_version:
        return []
    mod = api.PROTOCOL_MODULES[version]
    msg, _ = decoder.decode(data, asn1Spec=mod.Message())
    if str(mod.apiMessage.get_community(msg)) != community:
        return []
    req = mod.apiMessage.get_pdu(msg)
    rsp = mod.apiPDU.get_response(req)
    mod.apiPDU.set_request_id(rsp, int(mod.apiPDU.get_request_id(req)) + request_id_delta)
    values = {"1.3.6.1.2.1.1.1.0": mod.OctetString("Dahua NVR4104"),
              "1.3.6.1.2.1.1.2.0": mod.ObjectIdentifier("1.3.6.1.4.1.1004849"),
              "1.3.6.1.2.1.1.5.0": mod.OctetString("nvr\x00\xff")}
    binds = [(oid, values[str(oid)]) for oid, _ in mod.apiPDU.get_varbinds(req) if str(oid) in values]
    if version == api.SNMP_VERSION_2C:
        binds.append(("1.3.6.1.2.1.1.4.0", api.v2c.NoSuchObject("")))
    mod.apiPDU.set_varbinds(rsp, binds)
    out = mod.apiMessage.get_response(msg)
    mod.apiMessage.set_pdu(out, rsp)
    return [encoder.encode(out)]


async def test_v1_only_agent() -> None:
    async with agent(lambda d: respond(d, only_version=api.SNMP_VERSION_1)) as (port, proto):
        obs = await snmp.probe(HOST, port=port, timeout=2)
    assert obs is not None and obs.error is None, obs
    assert obs.fields["snmp.version"] == "1" and obs.fields["snmp.community"] == "public"
    assert obs.fields["snmp.sysdescr"] == "Dahua NVR4104"
    assert obs.fields["snmp.sysname"] == "nvr\ufffd"  # NUL dropped, invalid UTF-8 replaced
    # v2c public, v2c private were tried (no answer) before v1 public
    assert [api.decodeMessageVersion(d) for d in proto.seen] == [1, 1, 0]


async def test_v2c_nosuchobject_skipped() -> None:
    async with agent(lambda d: respond(d, community="private")) as (port, _):
        obs = await snmp.probe(HOST, port=port, timeout=2)
    assert obs is not None and obs.fields["snmp.community"] == "private"
    assert "snmp.syscontact" not in obs.fields


async def test_wrong_request_id_ignored() -> None:
    async with agent(lambda d: respond(d, request_id_delta=1)) as (port, _):
        assert await snmp.probe(HOST, port=port, timeout=1) is None


@pytest.mark.parametrize("junk", [b"\x30\x82\xff\xff garbage", os.urandom(60000), b"\x00"])
async def test_garbage_answers(junk: bytes) -> None:
    async with agent(lambda d: [junk]) as (port, _):
        t0 = time.monotonic()
        obs = await snmp.probe(HOST, port=port, timeout=1)
        assert time.monotonic() - t0 < 1.5
    assert obs is not None and obs.error == "malformed", obs


async def test_garbage_then_real_answer() -> None:
    async with agent(lambda d: [b"junk", *respond(d)]) as (port, _):
        obs = await snmp.probe(HOST, port=port, timeout=2)
    assert obs is not None and obs.error is None and obs.fields["snmp.community"] == "public"


async def test_nobody_listening() -> None:
    t0 = time.monotonic()
    assert await snmp.probe(HOST, port=_free_udp_port(HOST), timeout=2) is None
    assert time.monotonic() - t0 < 1.0  # ICMP port unreachable ends it at once
