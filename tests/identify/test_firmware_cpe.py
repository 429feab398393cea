"""Firmware normalisation (vulnerable-range comparisons) and CPE names."""

from __future__ import annotations

import pytest

from camaudit.identify import cpe, normalise_firmware
from camaudit.model import DeviceKind, Identity


@pytest.mark.parametrize(("vendor", "text", "version", "build"), [
    ("Hikvision", "V5.4.1 build 160525", (5, 4, 1), "160525"),
    ("Hikvision", "V5.5.800 build 210628", (5, 5, 800), "210628"),
    ("Hikvision", "V4.22.005 build 191209", (4, 22, 5), "191209"),
    ("Hikvision", "V5.4.1", (5, 4, 1), None),
    ("Dahua", "V2.800.0000000.16.R, Build Date: 2020-05-21", (2, 800, 0, 16), "2020-05-21"),
    ("Dahua", "2.622.0000000.31.R, build : 2017-12-28", (2, 622, 0, 31), "2017-12-28"),
    ("Dahua", "2.800.0000000.16.R", (2, 800, 0, 16), None),
    ("Amcrest", "V2.420.AC00.18.R, Build Date: 2017-06-29", (2, 420, 0, 18), "2017-06-29"),
    ("Axis", "6.50.1", (6, 50, 1), None),
    ("Axis", "11.8.64", (11, 8, 64), None),
    ("Xiongmai", "V4.02.R11.J5100044.12201.141200.00000", (4, 2, 11), "J5100044.12201.141200.00000"),
    (None, "V5.00.R02.000807D8.10010.346332.S.ONVIF 2.41", (5, 0, 2), "000807D8.10010.346332.S.ONVIF"),
    ("Milesight", "45.7.0.3", (45, 7, 0, 3), None),
    ("MikroTik", "6.49.7", (6, 49, 7), None),
    (None, "firmware 1.2.3 build 20200101", (1, 2, 3), "2020-01-01"),
    (None, "IPC_G6103-B0004P62D1907", (), None),
    (None, "", (), None),
    (None, None, (), None),
])
def test_normalise_firmware(vendor, text, version, build) -> None:
    assert normalise_firmware(vendor, text) == (version, build)


def test_versions_compare_as_tuples() -> None:
    old, _ = normalise_firmware("Hikvision", "V5.4.1 build 160525")
    new, _ = normalise_firmware("Hikvision", "V5.4.41 build 170312")
    assert old < new
    assert normalise_firmware("Dahua", "2.800.0000000.16.R")[0] < normalise_firmware("Dahua", "2.800.0000001.0.R")[0]


def test_hostile_firmware_text_is_bounded() -> None:
    version, build = normalise_firmware("Hikvision", "V" + "9." * 100_000 + "1 build " + "x" * 100_000)
    assert len(version) < 200 and (build is None or len(build) <= 32)


@pytest.mark.parametrize(("identity", "want"), [
    (Identity(vendor="Hikvision", model="DS-2CD2032-I", firmware="V5.4.1 build 160525"),
     "cpe:2.3:o:hikvision:ds-2cd2032-i_firmware:5.4.1:*:*:*:*:*:*:*"),
    (Identity(vendor="Hikvision", model="DS-2CD2026G2-IU/SL", firmware=None),
     "cpe:2.3:o:hikvision:ds-2cd2026g2-iu\\/sl_firmware:*:*:*:*:*:*:*:*"),
    (Identity(vendor="Hikvision", model="DS-2CD2143G2-I(S)", firmware="V5.7.3 build 220112"),
     "cpe:2.3:o:hikvision:ds-2cd2143g2-i\\(s\\)_firmware:5.7.3:*:*:*:*:*:*:*"),
    (Identity(vendor="Dahua", model="IPC-HDW1230S", firmware="V2.800.0000000.16.R, Build Date: 2020-05-21"),
     "cpe:2.3:o:dahuasecurity:ipc-hdw1230s_firmware:2.800.0.16:*:*:*:*:*:*:*"),
    (Identity(vendor="Axis", model="P3245-LVE", firmware="11.8.64", kind=DeviceKind.CAMERA),
     "cpe:2.3:o:axis:p3245-lve_firmware:11.8.64:*:*:*:*:*:*:*"),
    (Identity(vendor="Hikvision", model=None, firmware="V5.4.1"), None),
    (Identity(vendor="Xiongmai", model="NBD80S10S-KL", firmware="V4.02.R11"), None),  # NVD name unconfirmed
    (Identity(vendor="Provision-ISR", model="I4-340IPS", firmware="1.0"), None),
    (Identity(), None),
])
def test_cpe(identity: Identity, want: str | None) -> None:
    assert cpe(identity) == want
