"""The matcher's other sources: certificate names, SNMP enterprise numbers, the IEEE registry and
the kernel's neighbour table, vendor names in free text, model grammars and kind words."""

from __future__ import annotations

from pathlib import Path

import pytest

from camaudit.identify import Matcher, identify, oui
from camaudit.identify.derive import derived, dn_parts, enterprise_number
from camaudit.model import DeviceKind, Observation


def obs(protocol: str, **fields: str) -> Observation:
    return Observation("192.0.2.5", 0, protocol, fields={k.replace("__", "."): v for k, v in fields.items()})


@pytest.mark.parametrize(("dn", "want"), [
    ("CN=NVR,OU=Video,OU=NVR,O=ZheJiang Dahua Technology CO.\\,LTD.,C=CN",
     {"cn": "NVR", "ou": "Video | NVR", "o": "ZheJiang Dahua Technology CO.,LTD."}),
    ("C = TW, ST = Asia, O = D-Link Corporation, OU = D-Link Corporation, CN = www.dlink.com",
     {"o": "D-Link Corporation", "ou": "D-Link Corporation", "cn": "www.dlink.com"}),
    ("/C=CN/ST=ZJ/O=Hikvision/CN=IP Camera", {"o": "Hikvision", "cn": "IP Camera"}),
    ("CN=NVR; C=CN; ST=Zhejiang; O=ZheJiang Dahua Technology CO.,LTD.; OU=NVR",
     {"cn": "NVR", "ou": "NVR", "o": "ZheJiang Dahua Technology CO.,LTD."}),
    ("", {}),
    ("garbage without equals", {}),
])
def test_distinguished_names_in_every_usual_spelling(dn: str, want: dict[str, str]) -> None:
    got = dn_parts(dn)
    for k, v in want.items():
        assert got.get(k) == v, (dn, got)
    if not want:
        assert got == {}


def test_curl_style_semicolons_keep_the_organisation() -> None:
    got = dn_parts("CN=NVR; C=CN; O=ZheJiang Dahua Technology CO.,LTD.; OU=NVR")
    assert "Dahua" in got["o"]


@pytest.mark.parametrize(("oid", "pen"), [
    ("1.3.6.1.4.1.39165.1.1", "39165"), (".1.3.6.1.4.1.39165", "39165"),
    ("SNMPv2-SMI::enterprises.1004849.3.2.10", "1004849"), ("iso.3.6.1.4.1.368.4", "368"),
    ("enterprises.8072.3.2.10", "8072"), ("1.3.6.1.2.1.1", None), ("", None), ("1.3.6.1.4.1.", None),
])
def test_enterprise_number(oid: str, pen: str | None) -> None:
    assert enterprise_number(oid) == pen


def test_derived_fields_never_overwrite_what_a_client_set() -> None:
    d = derived({"tls.subject": "CN=a,O=Hikvision", "tls.subject_o": "kept"})
    assert d["tls.subject_o"] == "kept" and d["tls.subject_cn"] == "a"


def test_sysobjectid_alone_names_the_vendor_through_its_enterprise_number() -> None:
    ident = identify([obs("snmp", snmp__sysobjectid="SNMPv2-SMI::enterprises.1004849.3.2.10",
                          snmp__sysdescr="NVR")])
    assert (ident.vendor, ident.kind) == ("Dahua", DeviceKind.NVR)
    assert "snmp-enterprise.1004849@snmp:0" in ident.evidence


def test_certificate_organisation_names_the_vendor_but_issuer_words_not_the_kind() -> None:
    ident = identify([obs("tls", tls__subject="CN=192.168.20.92; C=CN",
                          tls__issuer="CN=NVR; C=CN; O=ZheJiang Dahua Technology CO.,LTD.; OU=NVR")])
    assert ident.vendor == "Dahua"
    assert ident.kind is DeviceKind.CAMERA  # what Dahua mostly ships, not "NVR" from the CA's name


def test_vendor_named_in_a_banner_longest_name_wins() -> None:
    assert identify([obs("ftp", ftp__banner="220 Viettel High Technology FTP ready")]).vendor == "VHT"
    assert identify([obs("telnet", telnet__banner="Viettel camera\r\nlogin:")]).vendor == "Viettel"
    assert identify([obs("http", http__title="KBVISION - Web Client")]).vendor == "KBVision"


def test_a_name_inside_a_word_is_not_a_mention() -> None:
    assert identify([obs("http", http__title="Sonyx portal")]).vendor is None
    assert identify([obs("http", http__title="Daxisland")]).vendor is None


@pytest.mark.parametrize(("fields", "vendor", "model", "kind"), [
    ({"snmp__sysdescr": "HIKVISION DS-7608NI-K2"}, "Hikvision", "DS-7608NI-K2", DeviceKind.NVR),
    ({"http__title": "DS-2CD2143G2-I"}, "Hikvision", "DS-2CD2143G2-I", DeviceKind.CAMERA),
    ({"rtsp__realm": "DHI-NVR4216-4KS2"}, "Dahua", "DHI-NVR4216-4KS2", DeviceKind.NVR),
    ({"ftp__banner": "220 XVR5108HS FTP server ready"}, "Dahua", "XVR5108HS", DeviceKind.DVR),
    ({"upnp__model_number": "IPC2122LR3-PF40-A"}, "Uniview", "IPC2122LR3-PF40-A", DeviceKind.CAMERA),
    ({"tls__subject": "CN=KX-A2112N2,O=KBVISION"}, "KBVision", "KX-A2112N2", DeviceKind.CAMERA),
    ({"onvif__model": "IPC-C22C", "onvif__manufacturer": "Dahua"}, "IMOU", "IPC-C22C", DeviceKind.CAMERA),
    ({"http__body": "deviceType=IP8M-2496EB\r\nserialNumber=4K049EBPAG1D7E7\r\n"}, "Amcrest", "IP8M-2496EB",
     DeviceKind.CAMERA),
])
def test_model_grammars_read_every_field(fields: dict[str, str], vendor: str, model: str, kind: DeviceKind) -> None:
    proto = next(iter(fields)).split("__")[0]
    ident = identify([obs(proto, **fields)])
    assert (ident.vendor, ident.model, ident.kind) == (vendor, model, kind)


@pytest.mark.parametrize(("fields", "kind"), [
    ({"http__realm": "Network Video Recorder"}, DeviceKind.NVR),
    ({"telnet__banner": "H264 DVR login:"}, DeviceKind.DVR),
    ({"ftp__banner": "220 IP Camera FTP server"}, DeviceKind.CAMERA),
])
def test_kind_words_without_a_vendor(fields: dict[str, str], kind: DeviceKind) -> None:
    proto = next(iter(fields)).split("__")[0]
    ident = identify([obs(proto, **fields)])
    assert ident.vendor is None and ident.kind is kind


@pytest.mark.parametrize("server", ["lighttpd/1.4.59", "Boa/0.94.14rc21", "GoAhead-Webs", "thttpd/2.25b 29dec2003"])
def test_embedded_web_servers_do_not_make_a_camera(server: str) -> None:
    ident = identify([obs("http", http__server=server, http__title="Login"),
                      obs("telnet", telnet__banner="BusyBox v1.20.2 built-in shell")])
    assert not ident.kind.is_video


def test_brand_is_named_over_the_maker_whose_signature_it_carries() -> None:
    ident = identify([obs("http", http__server="App-webs/", http__title="HiLook")])
    assert ident.vendor == "HiLook" and "oem_of:Hikvision" in ident.evidence


@pytest.mark.parametrize(("raw", "clean"), [
    ("AXIS 221 Network Camera", "221"), ("Hikvision DS-2CD2032-I", "DS-2CD2032-I"),
    ("DS-2CD2032-I", "DS-2CD2032-I"), ("Dahua IPC-HDW1230S IP Camera", "IPC-HDW1230S"),
])
def test_model_is_cleaned_of_the_vendor_name_and_kind_words(raw: str, clean: str) -> None:
    m = Matcher()
    vendor = "Axis" if raw.startswith("AXIS") else "Dahua" if "Dahua" in raw else "Hikvision"
    assert m.clean_model(raw, vendor) == clean


# --- IEEE registry (Debian ieee-data, read at run time) and the neighbour table --------------

REGISTRY = {
    "oui.csv": "Registry,Assignment,Organization Name,Organization Address\n"
               'MA-L,4CBD8F,"Hangzhou Hikvision Digital Technology Co.,Ltd.",No.555 Qianmo Road\n'
               "MA-L,0018AE,\"TVT CO.,LTD\",Shenzhen\nMA-L,001122,Private,\nbroken line\n",
    "mam.csv": "Registry,Assignment,Organization Name,Organization Address\n"
               "MA-M,4CBD8F1,Some Other Org,Somewhere\n",
    "oui36.csv": "Registry,Assignment,Organization Name,Organization Address\n",
}


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, text in REGISTRY.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    monkeypatch.setenv("CAMAUDIT_IEEE_DATA", str(tmp_path))
    return tmp_path


def test_oui_lookup_longest_assignment_first(registry: Path) -> None:
    assert oui.organisation("4C:BD:8F:10:11:22") == "Some Other Org"  # MA-M 4CBD8F1 beats MA-L
    assert oui.organisation("4c-bd-8f-21-00-00") == "Hangzhou Hikvision Digital Technology Co.,Ltd."
    assert oui.organisation("4C:BD:8F") == "Hangzhou Hikvision Digital Technology Co.,Ltd."
    assert oui.organisation("00:11:22:33:44:55") is None  # "Private"
    assert oui.organisation("4E:BD:8F:00:11:22") is None  # locally administered
    assert oui.organisation("not a mac") is None and oui.organisation(None) is None
    assert oui.organisation("4C:BD:8F:00:11:22:33") is None


def test_mac_names_a_known_vendor_only(registry: Path) -> None:
    ident = identify([obs("neigh", neigh__mac="00:18:ae:01:02:03")])
    assert ident.vendor == "TVT" and ident.mac == "00:18:ae:01:02:03"
    unknown = identify([obs("neigh", neigh__mac="00:11:22:33:44:55")])
    assert unknown.vendor is None and unknown.mac == "00:11:22:33:44:55"


def test_no_registry_no_vendor_from_a_mac(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAMAUDIT_IEEE_DATA", str(tmp_path / "absent"))
    assert identify([obs("neigh", neigh__mac="4C:BD:8F:00:11:22")]).vendor is None


ARP = ("IP address       HW type     Flags       HW address            Mask     Device\n"
       "192.0.2.5        0x1         0x2         4c:bd:8f:aa:bb:cc     *        eth0\n"
       "192.0.2.6        0x1         0x0         00:00:00:00:00:00     *        eth0\n"
       "192.0.2.7        0x1         zz          4c:bd:8f:aa:bb:cd     *        eth0\n")


def test_neighbour_table(tmp_path: Path) -> None:
    table = tmp_path / "arp"
    table.write_text(ARP)
    assert oui.neighbour_mac("192.0.2.5", table) == "4c:bd:8f:aa:bb:cc"
    assert oui.neighbour_mac("192.0.2.6", table) is None  # incomplete entry
    assert oui.neighbour_mac("192.0.2.7", table) is None  # unreadable flags
    assert oui.neighbour_mac("192.0.2.99", table) is None
    assert oui.neighbour_mac("127.0.0.1", table) is None and oui.neighbour_mac("::1", table) is None
    assert oui.neighbour_mac("nonsense", table) is None
    assert oui.neighbour_mac("192.0.2.5", tmp_path / "missing") is None


def test_matcher_asks_the_neighbour_table_only_when_no_mac_was_seen(registry: Path) -> None:
    asked: list[str] = []

    def table(address: str) -> str | None:
        asked.append(address)
        return "4c:bd:8f:aa:bb:cc"

    m = Matcher(neighbours=table)
    ident = m.identify([obs("http", http__server="nginx")])
    assert asked == ["192.0.2.5"] and ident.vendor == "Hikvision" and ident.mac == "4c:bd:8f:aa:bb:cc"
    asked.clear()
    m.identify([obs("http", http__server="nginx"), obs("device", device__mac="00:18:ae:01:02:03")])
    assert asked == []


def test_real_ieee_data_when_installed() -> None:
    import os
    if not oui.available():
        if os.environ.get("CI") == "true":
            pytest.fail("Debian package ieee-data is missing (make setup installs it)")
        pytest.skip("Debian package ieee-data is not installed (make setup installs it)")
    assert "Hikvision" in (oui.organisation("4C:BD:8F:00:00:01") or "")


HOSTILE = ["A" * 8192, "DS-" * 2700, "IPC-" * 2000, "Viettel " * 1000, "Login to " + "A" * 8000,
           "-" * 8192, "CN=" + "a," * 4000, "1.3.6.1.4.1." + "1." * 4000, "\x00" * 8192,
           "deviceType=" + "A-" * 4000, "<DeviceInfo xmlns=\"http://www.hikvision.com/ver20/XMLSchema\">" + " " * 8000]


def test_hostile_values_in_every_field_stay_fast() -> None:
    """The whole matcher (grammars on any field, mentions, DN parsing) over long adversarial values."""
    import time

    m = Matcher()
    keys = ["http.server", "http.title", "http.realm", "http.body", "tls.subject", "tls.issuer",
            "snmp.sysdescr", "snmp.sysobjectid", "ftp.banner", "onvif.model", "device.model", "mac"]
    for value in HOSTILE:
        t0 = time.perf_counter()
        m.identify([Observation("192.0.2.9", 0, k.split(".")[0], fields={k: value}) for k in keys])
        spent = time.perf_counter() - t0
        assert spent < 1.0, f"{spent:.2f}s on {value[:20]!r}..."


def test_ws_discovery_scopes_are_decoded_and_read_like_any_field() -> None:
    d = derived({"wsd.scopes": "onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/name/FLIR%20CM-6204-11-I"
                               "%20K816600858 onvif://www.onvif.org/hardware/CM-6204-11-I "
                               "onvif://www.onvif.org/manufacturer/FLIR%20Systems onvif://www.onvif.org/name/second"})
    assert d["wsd.name"] == "FLIR CM-6204-11-I K816600858"
    assert d["wsd.hardware"] == "CM-6204-11-I" and d["wsd.manufacturer"] == "FLIR Systems"
    ident = identify([obs("wsd", wsd__scopes="onvif://www.onvif.org/type/NetworkVideoTransmitter "
                                             "onvif://www.onvif.org/name/HIKVISION%20DS-2CD2143G2-I")])
    assert (ident.vendor, ident.model, ident.kind) == ("Hikvision", "DS-2CD2143G2-I", DeviceKind.CAMERA)
