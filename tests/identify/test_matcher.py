"""The matcher on realistic observation sets, one per device family, plus the hard cases."""

from __future__ import annotations

import time

from camaudit.identify import Matcher, cpe, identify, oem_of
from camaudit.model import DeviceKind, Identity, Observation


def obs(protocol: str, port: int, transport: str = "tcp", error: str | None = None, **fields: str) -> Observation:
    return Observation("127.20.0.9", port, protocol, transport,
                       fields={k.replace("__", "."): v for k, v in fields.items()}, error=error)


def hik_camera() -> list[Observation]:
    return [
        obs("http", 80, http__status="401", http__server="App-webs/", http__realm="IP Camera(45678)",
            http__auth_scheme="digest", http__path="/"),
        obs("http", 80, http__status="401", http__server="App-webs/", http__realm="IP Camera(45678)",
            http__path="/ISAPI/System/deviceInfo"),
        obs("rtsp", 554, rtsp__status="401", rtsp__realm="IP Camera(45678)", rtsp__auth_scheme="digest"),
        obs("hiksdk", 8000, hiksdk__magic="00000010", hiksdk__response_hex="00000010000000000000000600000000"),
        obs("ssh", 22, ssh__banner="SSH-2.0-dropbear_2014.63"),
    ]


def test_hikvision_camera_from_banners() -> None:
    ident = identify(hik_camera())
    assert ident.vendor == "Hikvision"
    assert ident.kind is DeviceKind.CAMERA
    assert ident.confidence > 0.95
    assert "hikvision.http-server.app-webs@http:80" in ident.evidence
    assert "hikvision.rtsp-realm.ipcamera@rtsp:554" in ident.evidence
    assert "hikvision.sdk-frame@hiksdk:8000" in ident.evidence
    assert not [e for e in ident.evidence if e.startswith("conflict:")]
    assert ident.model is None and ident.firmware is None  # the banners do not say
    assert cpe(ident) is None


def test_hikvision_camera_after_enrich_uses_device_facts() -> None:
    enriched = hik_camera() + [obs("http", 80, device__vendor="Hikvision", device__model="DS-2CD2032-I",
                                   device__firmware="V5.4.1 build 160525", device__kind="camera",
                                   device__serial="DS-2CD2032-I20160601AAWR612345678",
                                   device__mac="44:19:B6:3A:5F:21")]
    ident = identify(enriched)
    assert (ident.vendor, ident.model, ident.firmware) == ("Hikvision", "DS-2CD2032-I", "V5.4.1 build 160525")
    assert ident.serial == "DS-2CD2032-I20160601AAWR612345678"
    assert ident.mac == "44:19:b6:3a:5f:21"
    assert ident.confidence == 1.0
    assert ident.evidence[0].startswith("device.")
    assert cpe(ident) == "cpe:2.3:o:hikvision:ds-2cd2032-i_firmware:5.4.1:*:*:*:*:*:*:*"


def test_hikvision_nvr_kind_from_model_number() -> None:
    ident = identify([
        obs("http", 80, http__server="DNVRS-Webs", http__realm="DVRNVRDVS", http__status="401"),
        obs("rtsp", 554, rtsp__status="401", rtsp__realm="DVRNVRDVS"),
        obs("snmp", 161, "udp", snmp__community="public", snmp__sysdescr="Hikvision DS-7608NI-K2",
            snmp__sysobjectid="1.3.6.1.4.1.39165.1.1", snmp__sysname="DS-7608NI-K2"),
    ])
    assert ident.vendor == "Hikvision"
    assert ident.model == "DS-7608NI-K2"
    assert ident.kind is DeviceKind.NVR
    assert "snmp-enterprise.39165@snmp:161" in ident.evidence


def test_hikvision_dvr_model_from_realm() -> None:
    ident = identify([obs("http", 80, http__server="DVRDVS-Webs", http__realm="DS-7204HGHI-F1")])
    assert (ident.vendor, ident.model, ident.kind) == ("Hikvision", "DS-7204HGHI-F1", DeviceKind.DVR)


def dahua_camera() -> list[Observation]:
    return [
        obs("http", 80, http__status="200", http__title="WEB SERVICE", http__path="/"),
        obs("http", 80, http__status="200", http__path="/RPC2_Login", http__realm="Login to 5E01A91PAG7F3C1",
            http__body='{"error":{"code":268632079,"message":"Component error: login challenge!"},"id":1,'
                       '"params":{"authorization":"0a1b","encryption":"Default","random":"2029401871",'
                       '"realm":"Login to 5E01A91PAG7F3C1"},"result":false,"session":"x"}'),
        obs("rtsp", 554, rtsp__status="401", rtsp__server="Rtsp Server/3.0", rtsp__realm="Login to 5E01A91PAG7F3C1"),
        obs("dvrip", 37777, dvrip__magic="b0", dvrip__realm="Login to 5E01A91PAG7F3C1"),
        obs("onvif", 80, onvif__manufacturer="Dahua", onvif__model="IPC-HDW1230S",
            onvif__firmware="2.800.0000000.16.R", onvif__serial="5E01A91PAG7F3C1", onvif__auth_required="false"),
    ]


def test_dahua_camera() -> None:
    ident = identify(dahua_camera())
    assert (ident.vendor, ident.model, ident.kind) == ("Dahua", "IPC-HDW1230S", DeviceKind.CAMERA)
    assert ident.serial == "5E01A91PAG7F3C1"
    assert ident.firmware == "2.800.0000000.16.R"
    assert ident.confidence > 0.99
    assert "dahua.dvrip-realm@dvrip:37777" in ident.evidence
    assert cpe(ident) == "cpe:2.3:o:dahuasecurity:ipc-hdw1230s_firmware:2.800.0.16:*:*:*:*:*:*:*"


def test_dahua_oem_lorex_keeps_its_brand_and_names_the_maker() -> None:
    ident = identify([
        obs("http", 80, http__realm="Login to 4K049EBPAG1D7E7", http__title="WEB SERVICE"),
        obs("onvif", 80, onvif__manufacturer="LOREX", onvif__model="LNR6108"),
    ])
    assert ident.vendor == "Lorex"
    assert ident.kind is DeviceKind.NVR  # Lorex's own model rules
    assert "oem_of:Dahua" in ident.evidence
    assert not [e for e in ident.evidence if e.startswith("conflict:")]
    assert "dahua.http-realm.serial@http:80" in ident.evidence  # the maker's signature agrees
    assert oem_of("Lorex") == "Dahua" and oem_of("LOREX") == "Dahua" and oem_of("Dahua") is None


def test_conflicting_vendors_strongest_evidence_wins_with_lower_confidence() -> None:
    clean = identify(dahua_camera()[2:4])
    mixed = identify(dahua_camera()[2:4] + [obs("http", 8080, http__server="App-webs/")])
    assert mixed.vendor == "Dahua"
    assert "conflict:hikvision.http-server.app-webs@http:8080" in mixed.evidence
    assert mixed.confidence < clean.confidence


def test_onvif_device_information_beats_banners() -> None:
    ident = identify([
        obs("http", 80, http__server="App-webs/"),
        obs("onvif", 80, onvif__manufacturer="Uniview", onvif__model="IPC322LR3-VSPF28-D"),
    ])
    assert (ident.vendor, ident.model, ident.kind) == ("Uniview", "IPC322LR3-VSPF28-D", DeviceKind.CAMERA)
    assert "conflict:hikvision.http-server.app-webs@http:80" in ident.evidence


def test_authenticated_device_facts_beat_everything() -> None:
    ident = identify(hik_camera() + [obs("http", 80, device__vendor="Axis", device__model="M3045-V",
                                         device__kind="camera")])
    assert ident.vendor == "Axis"
    assert ident.model == "M3045-V"
    assert any(e.startswith("conflict:hikvision.") for e in ident.evidence)


def test_device_kind_beats_model_rule() -> None:
    """NBD boards are NVR boards by the model rule, but the device says it is a DVR."""
    base = [obs("http", 80, http__server="uc-httpd 1.0.0", http__title="NETSurveillance WEB"),
            obs("xmeye", 34567, xmeye__magic="ff", xmeye__ret="103"),
            obs("telnet", 23, telnet__banner="BusyBox v1.16.1 (2014-12-01 10:16:48 CST)",
                telnet__prompt="(none) login: ")]
    before = identify(base)
    assert before.vendor == "Xiongmai"
    assert before.kind.is_video
    after = identify(base + [obs("xmeye", 34567, device__vendor="Xiongmai", device__model="NBD80S10S-KL",
                                 device__firmware="V4.02.R11.J5100044.12201.141200.00000",
                                 device__kind="dvr")])
    assert (after.vendor, after.model, after.kind) == ("Xiongmai", "NBD80S10S-KL", DeviceKind.DVR)


def test_axis_camera_mac_model_and_firmware() -> None:
    ident = identify([
        obs("http", 80, http__status="200", http__server="Apache/2.4.27 (Unix) OpenSSL/1.0.2l", http__title="Index page"),
        obs("http", 80, http__status="401", http__realm="AXIS_ACCC8E7B21F4", http__title="AXIS M3045-V"),
        obs("http", 80, http__path="/axis-cgi/basicdeviceinfo.cgi",
            http__body='{"apiVersion": "1.0", "data": {"propertyList": {"Brand": "AXIS", "ProdNbr": "M3045-V", '
                       '"ProdType": "Network Camera", "SerialNumber": "ACCC8E7B21F4", "Version": "6.50.1"}}}'),
        obs("tls", 443, tls__subject_cn="axis-accc8e7b21f4"),
        obs("wsd", 3702, "udp", wsd__types="dn:NetworkVideoTransmitter tds:Device",
            wsd__scopes="onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/hardware/M3045-V "
                        "onvif://www.onvif.org/name/AXIS"),
        obs("upnp", 49152, upnp__manufacturer="AXIS", upnp__model_number="M3045-V"),
    ])
    assert (ident.vendor, ident.model, ident.firmware, ident.kind) == ("Axis", "M3045-V", "6.50.1", DeviceKind.CAMERA)
    assert ident.mac == "ac:cc:8e:7b:21:f4"
    assert not [e for e in ident.evidence if e.startswith("conflict:")]  # Apache is not a vendor claim
    assert cpe(ident) == "cpe:2.3:o:axis:m3045-v_firmware:6.50.1:*:*:*:*:*:*:*"


def test_generic_onvif_camera_of_a_smaller_vendor() -> None:
    ident = identify([
        obs("http", 80, http__title="Network Camera"),
        obs("onvif", 80, onvif__manufacturer="Milesight", onvif__model="MS-C2963-PB", onvif__firmware="45.7.0.3",
            onvif__auth_required="false", onvif__utc_time="2024-03-01T08:15:00Z"),
        obs("rtsp", 554, rtsp__status="200"),
    ])
    assert (ident.vendor, ident.model, ident.kind) == ("Milesight", "MS-C2963-PB", DeviceKind.CAMERA)


def test_onvif_camera_of_unknown_vendor() -> None:
    ident = identify([obs("wsd", 3702, "udp", wsd__types="dn:NetworkVideoTransmitter",
                          wsd__scopes="onvif://www.onvif.org/type/video_encoder")])
    assert ident.vendor is None
    assert ident.kind is DeviceKind.CAMERA
    assert 0.6 < ident.confidence < 0.9


def test_thin_evidence_rtsp_only() -> None:
    ident = identify([obs("rtsp", 554, rtsp__status="401", rtsp__realm="RTSP SERVER", rtsp__server="Rtsp Server/2.0")])
    assert ident.vendor is None
    assert ident.kind is DeviceKind.CAMERA
    assert ident.confidence == 0.4
    assert ident.evidence == ["rtsp.answers@rtsp:554"]


def test_embedded_server_alone_says_nothing_about_the_kind() -> None:
    ident = identify([obs("http", 80, http__server="GoAhead-Webs", http__status="401", http__realm="GoAhead")])
    assert ident.kind is DeviceKind.UNKNOWN
    assert ident.vendor is None
    assert ident.confidence == 0.0
    assert ident.evidence == ["http-server.goahead@http:80"]


def test_mikrotik_router_is_other() -> None:
    ident = identify([
        obs("ssh", 22, ssh__banner="SSH-2.0-ROSSSH"),
        obs("https", 443, http__title="RouterOS router configuration page", http__status="200"),
        obs("tls", 443, tls__subject_cn="router"),
    ])
    assert (ident.vendor, ident.kind) == ("MikroTik", DeviceKind.OTHER)
    assert ident.confidence > 0.95
    assert "mikrotik.http-title@https:443" in ident.evidence


def test_tplink_router_is_other() -> None:
    ident = identify([obs("http", 80, http__server="Boa/0.94.14rc21",
                          http__realm="TP-LINK Wireless N Router WR841N")])
    assert (ident.vendor, ident.model, ident.kind) == ("TP-Link", "WR841N", DeviceKind.OTHER)


def test_plain_nginx_is_other_without_vendor() -> None:
    ident = identify([obs("http", 80, http__server="nginx/1.22.1", http__title="Welcome to nginx!")])
    assert ident.vendor is None
    assert ident.kind is DeviceKind.OTHER
    assert 0.6 <= ident.confidence < 0.7


def test_server_software_alone_is_not_another_kind_of_device() -> None:
    # cameras embed OpenSSH and vsftpd too: only evidence naming the device makes it "other"
    # (issue 6: such a host would otherwise be spared the credential checks)
    ident = identify([obs("ssh", 22, ssh__banner="SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3"),
                      obs("ftp", 21, ftp__banner="220 (vsFTPd 3.0.3)")])
    assert ident.kind is DeviceKind.UNKNOWN


def test_iis_server_header_alone_is_not_another_kind_of_device() -> None:
    # Windows-based recorders answer with Microsoft-IIS too: the header names server software,
    # not the device; the IIS default page does name a Windows server
    ident = identify([obs("http", 80, http__server="Microsoft-IIS/10.0")])
    assert ident.kind is DeviceKind.UNKNOWN and ident.vendor is None
    page = identify([obs("http", 80, http__server="Microsoft-IIS/10.0", http__title="IIS Windows Server")])
    assert page.kind is DeviceKind.OTHER and page.vendor == "Microsoft"


def test_camera_behind_nginx_stays_a_camera() -> None:
    ident = identify([obs("http", 80, http__server="nginx", http__realm="IP Camera(C2183)")])
    assert (ident.vendor, ident.kind) == ("Hikvision", DeviceKind.CAMERA)


def test_no_evidence_is_unknown() -> None:
    assert identify([]) == Identity()
    ident = identify([obs("http", 80, error="timeout"), obs("rtsp", 554, error="reset", rtsp__status="")])
    assert ident.kind is DeviceKind.UNKNOWN and ident.vendor is None and ident.confidence == 0.0
    assert ident.evidence == []


def test_same_fingerprint_on_two_ports_counts_once_but_is_listed_twice() -> None:
    one = identify([obs("http", 80, http__server="App-webs/")])
    two = identify([obs("http", 80, http__server="App-webs/"), obs("http", 8080, http__server="App-webs/")])
    assert one.confidence == two.confidence == 0.8
    assert two.evidence == ["hikvision.http-server.app-webs@http:80", "hikvision.http-server.app-webs@http:8080"]


def test_hostile_huge_values_are_bounded() -> None:
    ident = identify([obs("http", 80, http__body="<DeviceInfo " + "x" * 200_000, http__title="A" * 100_000)])
    assert ident.kind is DeviceKind.UNKNOWN


def test_fast_enough_for_a_city_block() -> None:
    """250 hosts x ~15 observations well under a second."""
    matcher = Matcher()
    hosts = []
    families = [hik_camera(), dahua_camera()]
    for i in range(250):
        base = families[i % 2]
        extra = [obs("http", 8000 + j, http__server="nginx", http__title=f"Page {j}",
                     http__body="<html>" + "lorem ipsum " * 150 + "</html>") for j in range(15 - len(base))]
        hosts.append(base + extra)
    t0 = time.perf_counter()
    for h in hosts:
        matcher.identify(h)
    spent = time.perf_counter() - t0
    assert spent < 0.5, f"{spent:.3f}s for 250 hosts"


def test_vendor_neutral_evidence_does_not_raise_vendor_confidence() -> None:
    alone = identify([obs("http", 80, http__server="App-webs/")])
    more = identify([obs("http", 80, http__server="App-webs/"), obs("rtsp", 554, rtsp__status="401")])
    assert alone.confidence == more.confidence == 0.8
    assert "rtsp.answers@rtsp:554" in more.evidence
