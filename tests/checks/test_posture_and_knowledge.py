"""Posture checks (cleartext, SNMP, firmware), ONVIF/FTP anonymous access with stand-in
clients, and the knowledge files: loading, refusal of malformed files, schemas, lab firmware."""

from __future__ import annotations

import json
import shutil
import sys
import types

import pytest

from camaudit.checks.anonymous import FtpAnonymous, OnvifAnonymous
from camaudit.checks.cleartext import CleartextFtp, CleartextHttp, CleartextTelnet
from camaudit.checks.firmware import VulnerableFirmware
from camaudit.checks.snmp import SnmpDefaultCommunity
from camaudit.knowledge import DATA_DIR, SCHEMA_DIR, KnowledgeError, json_schemas, load_kb
from camaudit.model import AuthOutcome, AuthResult, DeviceKind, HostResult, Identity, Observation

A = "127.20.0.9"


def cam(*obs: Observation, vendor=None, model=None, firmware=None) -> HostResult:
    return HostResult(A, observations=list(obs), identity=Identity(
        vendor=vendor, model=model, firmware=firmware, kind=DeviceKind.CAMERA,
        evidence=["hikvision-isapi@http:80"]))


def http_obs(port: int, path: str, status: str, **extra: str) -> Observation:
    return Observation(A, port, "http", fields={"http.path": path, "http.status": status, **extra})


# ------------------------------------------------------------------ cleartext, SNMP

async def test_cleartext_http_login_page_without_https_redirect(ctx):
    host = cam(http_obs(80, "/", "200", **{"http.title": "NETSurveillance WEB"}),
               http_obs(8080, "/", "404"))
    findings = await CleartextHttp().run(host, ctx)
    assert [(f.port, f.evidence["reason"]) for f in findings] == [
        (80, "login or administration page served over plain HTTP")]


async def test_cleartext_http_not_reported_when_redirected_to_https(ctx):
    host = cam(http_obs(80, "/", "302", **{"http.location": "https://127.20.0.9/"}),
               http_obs(80, "/ISAPI/System/deviceInfo", "401"))
    assert await CleartextHttp().run(host, ctx) == []


async def test_cleartext_http_api_asking_password(ctx):
    host = cam(http_obs(80, "/", "404"), http_obs(80, "/ISAPI/System/deviceInfo", "401"))
    [f] = await CleartextHttp().run(host, ctx)
    assert f.evidence["path"] == "/ISAPI/System/deviceInfo"


async def test_cleartext_telnet_and_ftp(ctx):
    host = cam(Observation(A, 23, "telnet", fields={"telnet.banner": "(none) login:"}),
               Observation(A, 21, "ftp", fields={"ftp.banner": "220 uc-httpd FTP"}),
               Observation(A, 2323, "telnet", error="refused"))
    assert [(f.check_id, f.port) for f in await CleartextTelnet().run(host, ctx)] == [
        ("cleartext-telnet", 23)]
    assert [(f.check_id, f.port) for f in await CleartextFtp().run(host, ctx)] == [
        ("cleartext-ftp", 21)]
    assert await CleartextTelnet().run(cam(), ctx) == []


async def test_snmp_default_community_shown_other_not(ctx):
    pub = Observation(A, 161, "snmp", "udp", fields={"snmp.community": "public",
                                                     "snmp.sysdescr": "Linux"})
    [f] = await SnmpDefaultCommunity().run(cam(pub), ctx)
    assert f.evidence["community"] == "public" and f.protocol == "snmp"
    custom = Observation(A, 161, "snmp", "udp", fields={"snmp.community": "S3cret-comm"})
    assert await SnmpDefaultCommunity().run(cam(custom), ctx) == []


# ------------------------------------------------------------------ firmware

async def test_vulnerable_firmware_one_finding_per_cve(ctx):
    host = cam(Observation(A, 80, "onvif", fields={"onvif.firmware": "V5.4.1 build 160525"}),
               vendor="Hikvision", model="DS-2CD2032-I", firmware="V5.4.1 build 160525")
    findings = await VulnerableFirmware().run(host, ctx)
    by_cve = {f.cves[0]: f for f in findings}
    assert set(by_cve) == {"CVE-2017-7921", "CVE-2017-7923"}
    assert by_cve["CVE-2017-7921"].severity.value == "critical"
    assert by_cve["CVE-2017-7923"].severity.value == "high"
    assert by_cve["CVE-2017-7921"].evidence["firmware_seen_in"] == ["onvif:80"]
    assert by_cve["CVE-2017-7921"].evidence["kev"] is True


@pytest.mark.parametrize("vendor,model,firmware,cves", [
    ("Hikvision", "DS-2CD2143G0-I", "V5.5.800 build 210628", set()),
    ("Hikvision", "DS-2CD2143G0-I", "V5.5.0 build 190905", {"CVE-2021-36260"}),
    ("Hikvision", "DS-7608NI-K2", "V4.22.005 build 191209", set()),
    ("Dahua", "IPC-HDW3441T-ZS", "V2.800.0000000.16.R, Build Date: 2020-05-21",
     {"CVE-2021-33044", "CVE-2021-33045"}),
    ("Dahua", "IPC-HDW3441T-ZS", "V2.800.0000000.25.R, Build Date: 2021-09-10", set()),
    ("Axis", "AXIS M3045-V", "7.20.1", {"CVE-2018-10660", "CVE-2018-10661", "CVE-2018-10662"}),
    ("Axis", "AXIS M3045-V", "9.80.1", set()),
    ("Hikvision", "DS-2CD2032-I", None, set()),
    (None, "DS-2CD2032-I", "V5.4.1 build 160525", set()),
])
async def test_firmware_ranges(ctx, vendor, model, firmware, cves):
    host = cam(vendor=vendor, model=model, firmware=firmware)
    findings = await VulnerableFirmware().run(host, ctx) if firmware else []
    assert {f.cves[0] for f in findings} == cves


# ------------------------------------------------------------------ ONVIF / FTP stand-ins

def _stand_in(monkeypatch, name: str, **funcs) -> None:
    mod = types.ModuleType(f"camaudit.protocols.{name}")
    for k, v in funcs.items():
        setattr(mod, k, v)
    monkeypatch.setitem(sys.modules, f"camaudit.protocols.{name}", mod)


async def test_onvif_anonymous_from_observation_and_stream_uri(ctx, monkeypatch):
    calls = []

    async def get_stream_uri(address, port, *, username=None, password=None, tls=False, timeout):
        calls.append(port)
        return AuthResult(AuthOutcome.NO_AUTH), "rtsp://127.20.0.9/live"

    _stand_in(monkeypatch, "onvif", get_stream_uri=get_stream_uri)
    open_info = Observation(A, 80, "onvif", fields={"onvif.auth_required": "false",
                                                    "onvif.manufacturer": "XM"})
    protected = Observation(A, 8899, "onvif", fields={"onvif.auth_required": "true"})
    findings = await OnvifAnonymous().run(cam(open_info, protected), ctx)
    assert [(f.port, f.evidence["operation"]) for f in findings] == [
        (80, "GetDeviceInformation"), (8899, "GetStreamUri")]
    assert calls == [8899]


async def test_onvif_protected_gives_nothing(ctx, monkeypatch):
    async def get_stream_uri(address, port, *, username=None, password=None, tls=False, timeout):
        return AuthResult(AuthOutcome.FAILURE, status=401), None

    _stand_in(monkeypatch, "onvif", get_stream_uri=get_stream_uri)
    obs = Observation(A, 80, "onvif", fields={"onvif.auth_required": "true"})
    assert await OnvifAnonymous().run(cam(obs), ctx) == []


@pytest.mark.parametrize("outcome,found", [(AuthOutcome.SUCCESS, True),
                                           (AuthOutcome.FAILURE, False)])
async def test_ftp_anonymous_one_attempt(ctx, monkeypatch, outcome, found):
    users = []

    async def try_login(address, port, username, password, *, timeout):
        users.append(username)
        return AuthResult(outcome, "230 Login successful." if found else "530")

    _stand_in(monkeypatch, "ftp", try_login=try_login)
    host = cam(Observation(A, 21, "ftp", fields={"ftp.banner": "220"}))
    assert bool(await FtpAnonymous().run(host, ctx)) is found
    assert await FtpAnonymous().run(host, ctx) == []  # budget of one attempt spent
    assert users == ["anonymous"]


# ------------------------------------------------------------------ knowledge files

def test_packaged_knowledge_loads_with_version(kb):
    assert len(kb.version) == 16
    assert {"hikvision", "dahua", "xiongmai", "axis"} <= set(kb.credentials.vendors)
    assert all(e.source for es in kb.credentials.vendors.values() for e in es)
    assert all(not e.vendor_default for e in kb.credentials.generic)
    assert set(kb.checks.checks) >= {"default-credentials", "vulnerable-firmware"}


def test_credential_choice_per_vendor_and_service(kb):
    xm_telnet = kb.credentials.vendor_defaults("xiongmai", "telnet", 4)
    assert [(e.username, e.password) for e in xm_telnet] == [
        ("root", "xc3511"), ("root", "xmhdipc"), ("root", "klv123")]
    assert kb.credentials.vendor_defaults("xiongmai", "http", 4)[0].password == ""
    top = kb.credentials.vendor_defaults(None, "http", 6, per_account=4)
    assert [(e.username, e.password) for e in top] == [  # credentials.yaml "unidentified"
        ("admin", "admin"), ("admin", "12345"), ("admin", ""), ("admin", "123456"),
        ("root", "pass"), ("root", "")]
    telnet = kb.credentials.vendor_defaults("questek", "telnet", 6, per_account=4)  # no entry: same list
    assert [(e.username, e.password) for e in telnet] == [  # Mirai's weights
        ("root", "xc3511"), ("root", "vizxv"), ("root", "admin"), ("root", "888888"),
        ("admin", "admin"), ("support", "support")]
    assert kb.routes.for_vendor("dahua", 2) == ["/cam/realmonitor?channel=1&subtype=0",
                                                "/cam/realmonitor"]


@pytest.mark.parametrize("file,old,new,expect", [
    ("vulns.yaml", "score: 9.8", "score: 98", ["vulns.yaml", "vulns[", "cvss.score"]),
    ("credentials.yaml", "    - username: admin\n      password: \"12345\"\n",
     "    - password: \"12345\"\n", ["credentials.yaml", "vendors.hikvision[0]", "username"]),
    ("checks.yaml", "  no-login-lockout:\n    title:\n", "  no-login-lockout:\n    titel:\n",
     ["checks.yaml", "checks.no-login-lockout", "titel"]),
])
def test_malformed_file_refused_naming_file_entry_field(tmp_path, file, old, new, expect):
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    text = (data / file).read_text(encoding="utf-8")
    assert old in text
    (data / file).write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(KnowledgeError) as err:
        load_kb(data)
    for part in expect:
        assert part in str(err.value)


def test_version_changes_with_data(tmp_path, kb):
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    with open(data / "rtsp_routes.yaml", "a", encoding="utf-8") as f:
        f.write("# edited\n")
    assert load_kb(data).version != kb.version


def test_schema_files_match_models():
    for name, schema in json_schemas().items():
        on_disk = json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))
        assert on_disk == schema, f"{name} is stale: run camaudit.knowledge.write_schemas()"


def test_every_registered_check_has_metadata(kb):
    import camaudit.checks as checks

    for check_id, check in checks.REGISTRY.items():
        text = kb.checks.get(check_id)
        assert text.title.vi and text.remediation.en
        assert check.meta.clauses, check_id


def test_oem_brands_use_their_makers_knowledge():
    from camaudit.checks._support import vendor_of
    from camaudit.model import DeviceKind, HostResult, Identity

    def host(vendor):
        return HostResult("127.0.0.1", identity=Identity(vendor=vendor, kind=DeviceKind.CAMERA))

    assert vendor_of(host("Amcrest")) == "dahua"
    assert vendor_of(host("Annke")) == "hikvision"
    assert vendor_of(host("Hikvision")) == "hikvision"
    assert vendor_of(host("Axis")) == "axis"
    assert vendor_of(host(None)) is None
