"""Offline knowledge updates: NVD CVE JSON 2.0 and CISA KEV CSV imports into the overlay, the
merged knowledge seen by the vulnerable-firmware check, and hostile input refused with exit 2
leaving the overlay byte-identical."""

from __future__ import annotations

import datetime as dt
import gzip
import inspect
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from camaudit.checks.base import CheckContext
from camaudit.checks.firmware import VulnerableFirmware
from camaudit.cli.kb import kb
from camaudit.knowledge import DATA_DIR, KnowledgeError, load_kb
from camaudit.knowledge import update as upd
from camaudit.knowledge.feeds import (
    ImportedVuln,
    model_pattern,
    parse_cpe,
    version_text,
)
from camaudit.model import DeviceKind, HostResult, Identity, Severity

from .samples import (
    CVE_2021_40407,
    CVES,
    KEV_HEADER,
    KEV_ROWS,
    feed,
    write_feed,
    write_kev,
)

NOW = dt.datetime(2025, 11, 26, tzinfo=dt.UTC)


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    h = tmp_path / "home"
    monkeypatch.setenv("CAMAUDIT_HOME", str(h))
    return h


@pytest.fixture
def inputs(tmp_path) -> tuple[Path, Path]:
    return write_feed(tmp_path / "nvdcve-2.0-2021.json"), write_kev(tmp_path / "known_exploited_vulnerabilities.csv")


def merged(home: Path):
    return upd.with_overlay(load_kb(DATA_DIR), home)


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under the overlay directory and its bytes."""
    if not directory.exists():
        return {}
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def host(vendor: str, model: str, firmware: str) -> HostResult:
    return HostResult("127.0.0.9", identity=Identity(vendor=vendor, model=model, firmware=firmware,
                                                     kind=DeviceKind.CAMERA, evidence=["test@http:80"]))


# ------------------------------------------------------------------ conversion


def test_cpe_strings_are_unquoted_and_bad_ones_refused():
    c = parse_cpe("cpe:2.3:o:hikvision:ds-2cd2066g2-i\\(u\\)_firmware:-:*:*:*:*:*:*:*")
    assert (c.part, c.vendor, c.product, c.version) == ("o", "hikvision", "ds-2cd2066g2-i(u)_firmware", "-")
    assert parse_cpe("cpe:2.3:o:hikvision:ds-2cd2026g2-iu\\/sl_firmware:-:*:*:*:*:*:*:*").product == \
        "ds-2cd2026g2-iu/sl_firmware"
    for bad in ("cpe:/o:hikvision:ds-2cd2032-i_firmware", "cpe:2.3:o:hikvision:ds-2cd2032-i_firmware:-",
                "cpe:2.3:x:hikvision:a:-:*:*:*:*:*:*:*", "cpe:2.3:o:hikvision:ds-2cd*:-:*:*:*:*:*:*:*",
                "cpe:2.3:o:hikvision:ds\\", "cpe:2.3:o:*:ds:-:*:*:*:*:*:*:*"):
        assert parse_cpe(bad) is None, bad


@pytest.mark.parametrize("product, yes, no", [
    ("ds-2cd2032-i", ["DS-2CD2032-I", "DS-2CD2032-I(4mm)"], ["DS-2CD2032-IW", "DS-2CD2032"]),
    ("ds-2cd2066g2-i(u)", ["DS-2CD2066G2-I", "DS-2CD2066G2-IU"], ["DS-2CD2066G2-IUX"]),
    ("ds-2cd2026g2-iu/sl", ["DS-2CD2026G2-IU/SL"], ["DS-2CD2026G2-IU"]),
    ("ipc-hx3xxx", ["IPC-HDW3441TM-AS", "DH-IPC-HFW3541E-AS"], ["IPC-HDW2431T", "IPC-HDW3441"[:7]]),
    ("sd22", ["SD22204T-GN"], ["SD42C212T"]),
    ("c1_pro", ["C1 Pro", "C1_Pro"], ["C2 Pro"]),
])
def test_model_patterns(product, yes, no):
    import re

    pattern = re.compile(model_pattern(product), re.IGNORECASE)
    assert all(pattern.search(m) for m in yes), [m for m in yes if not pattern.search(m)]
    assert not any(pattern.search(m) for m in no), [m for m in no if pattern.search(m)]


def test_nvd_versions_read_as_the_device_writes_them():
    assert version_text("2.800.0000000.29.r.210630") == "2.800.0000000.29.R, Build Date: 2021-06-30"
    assert version_text("5.5.800_build_210628") == "5.5.800 build 210628"


# ------------------------------------------------------------------ import -> knowledge -> check


async def test_import_then_check_flags_matching_identity(home, inputs):
    nvd, kev = inputs
    before = load_kb(DATA_DIR)
    summary = upd.import_feeds([nvd], kev, now=NOW)
    [r] = summary.nvd
    assert (r.read, sorted(r.vulns)) == (5, ["CVE-2019-11001", "CVE-2021-33044", "CVE-2021-36260",
                                            "CVE-2021-40407"])  # OFBiz is not a camera
    assert dict(r.by_vendor) == {"reolink": 2, "dahua": 1, "hikvision": 1}
    kb2 = merged(home)
    assert kb2.version != before.version and kb2.version.startswith(before.version + "+")
    assert kb2.version == summary.version_after
    ctx = CheckContext(kb=kb2)

    # Reolink RLC-410W on the firmware Talos tested: CVE-2021-40407 (exact release) only
    findings = await VulnerableFirmware().run(host("Reolink", "RLC-410W", "v3.0.0.136_20121102"), ctx)
    [f] = findings
    assert f.cves == ["CVE-2021-40407"] and f.severity is Severity.HIGH
    assert f.evidence["kev"] is True and f.evidence["cvss"] == 7.2
    assert f.evidence["references"][0] == "https://nvd.nist.gov/vuln/detail/CVE-2021-40407"
    # ...and an older firmware "through 1.0.227": CVE-2019-11001
    [f] = await VulnerableFirmware().run(host("Reolink", "RLC-410W", "1.0.227"), ctx)
    assert f.cves == ["CVE-2019-11001"]
    # a later firmware and another model: nothing
    assert await VulnerableFirmware().run(host("Reolink", "RLC-410W", "v3.0.0.494_21073000"), ctx) == []
    assert await VulnerableFirmware().run(host("Reolink", "RLC-810A", "v3.0.0.136_20121102"), ctx) == []
    # without the import the packaged knowledge knows none of it
    assert await VulnerableFirmware().run(host("Reolink", "RLC-410W", "v3.0.0.136_20121102"),
                                          CheckContext(kb=before)) == []


def test_packaged_entries_win_and_kev_flags_them(home, inputs):
    nvd, kev = inputs
    upd.import_feeds([nvd], kev, now=NOW)
    packaged = {v.id: v for v in load_kb(DATA_DIR).vulns.vulns}
    vulns = {v.id: v for v in merged(home).vulns.vulns}
    # CVE-2021-36260 and CVE-2021-33044 are curated in vulns.yaml: their ranges are kept
    for cve in ("CVE-2021-36260", "CVE-2021-33044"):
        assert vulns[cve].affected == packaged[cve].affected
        assert vulns[cve].summary == packaged[cve].summary
    # KEV gives the date it was added, on packaged and imported entries alike
    assert isinstance(vulns["CVE-2017-7921"], ImportedVuln)
    assert (vulns["CVE-2017-7921"].kev, vulns["CVE-2017-7921"].kev_date) == (True, "2021-11-03")
    assert vulns["CVE-2021-36260"].kev_date == "2022-01-10"
    assert vulns["CVE-2021-40407"].kev_date == "2024-12-18"
    assert "CVE-2024-45195" not in vulns  # in KEV but not a camera CVE


def test_merging_keeps_newest_record_and_kev_replaces(home, tmp_path, inputs):
    nvd, kev = inputs
    upd.import_feeds([nvd], kev, now=NOW)
    newer = dict(CVE_2021_40407, lastModified="2026-01-01T00:00:00.000",
                 metrics={"cvssMetricV31": [{"source": "nvd@nist.gov", "type": "Primary", "cvssData": {
                     "version": "3.1", "vectorString": "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H",
                     "baseScore": 8.8}}]})
    modified = write_feed(tmp_path / "nvdcve-2.0-modified.json", [newer])
    small_kev = write_kev(tmp_path / "kev2.csv", [KEV_ROWS[0]])
    s = upd.import_feeds([modified], small_kev, now=NOW)
    assert s.cves_total == 4 and s.kev_total == 1
    vulns = {v.id: v for v in merged(home).vulns.vulns}
    assert vulns["CVE-2021-40407"].cvss.score == 8.8
    # not in the new catalogue, but NVD's record carries CISA's own fields
    assert (vulns["CVE-2019-11001"].kev, vulns["CVE-2019-11001"].kev_date) == (True, "2024-12-18")
    assert getattr(vulns["CVE-2017-7921"], "kev_date", None) is None  # the new catalogue lists only 40407
    # an older record does not overwrite a newer one
    upd.import_feeds([nvd], now=NOW)
    assert {v.id: v for v in merged(home).vulns.vulns}["CVE-2021-40407"].cvss.score == 8.8
    # --replace starts again from the packaged knowledge
    s = upd.import_feeds([], small_kev, replace=True, now=NOW)
    assert s.cves_total == 0 and [x.kind for x in upd.read_overlay(home).manifest.sources] == ["kev"]


def test_compressed_feed_and_api_page(home, tmp_path):
    gz = tmp_path / "nvdcve-2.0-2021.json.gz"
    gz.write_bytes(gzip.compress(json.dumps(feed(CVES)).encode()))
    # an API response is compact JSON on one line, same shape
    page = tmp_path / "api-page.json"
    page.write_text(json.dumps(dict(feed([CVE_2021_40407]), resultsPerPage=1, totalResults=2000)))
    s = upd.import_feeds([gz, page], now=NOW)
    assert [len(r.vulns) for r in s.nvd] == [4, 1] and s.cves_total == 4


def test_unreadable_cpe_strings_are_skipped_and_counted(home, tmp_path):
    broken = json.loads(json.dumps(CVE_2021_40407))
    broken["configurations"][0]["nodes"][0]["cpeMatch"].append(
        {"vulnerable": True, "criteria": "cpe:2.3:o:reolink:rlc-410w_firmware", "matchCriteriaId": "X"})
    no_v3 = dict(json.loads(json.dumps(CVE_2021_40407)), id="CVE-2021-40408", metrics={"cvssMetricV2": []})
    s = upd.import_feeds([write_feed(tmp_path / "f.json", [broken, no_v3])], now=NOW)
    assert s.skipped == {"unreadable CPE string": 1, "camera CVE without a CVSS v3 score": 1}
    assert s.cves_total == 1


def test_load_kb_merges_the_overlay(home, inputs):
    """load_kb() of the packaged data merges the overlay once the lead has wired it."""
    from camaudit import knowledge

    if "with_overlay" not in inspect.getsource(knowledge.load_kb):
        pytest.skip("camaudit.knowledge.load_kb does not call update.with_overlay yet")
    upd.import_feeds(list(inputs[:1]), inputs[1], now=NOW)
    assert load_kb().version == merged(home).version
    assert "CVE-2021-40407" in {v.id for v in load_kb().vulns.vulns}


# ------------------------------------------------------------------ hostile input


def hostile_cases(tmp: Path) -> dict[str, tuple[list[str], str]]:
    """name -> (kb update arguments, words the one-line error must hold)."""
    good = json.dumps(feed(CVES), indent=2)
    (tmp / "truncated.json").write_text(good[: len(good) // 2])
    (tmp / "not-nvd.json").write_text(json.dumps({"vulnerabilities": [{"id": "x"}], "format": "OSV"}))
    (tmp / "nvd-1.1.json").write_text(json.dumps({"CVE_data_type": "CVE", "CVE_data_format": "MITRE",
                                                  "CVE_data_version": "4.0", "CVE_Items": []}))
    (tmp / "list.json").write_text("[1, 2, 3]")
    (tmp / "bad-item.json").write_text(json.dumps(dict(feed([]), vulnerabilities=[{"id": "CVE-2021-1"}])))
    bad_id = dict(CVE_2021_40407, id="CVE-21-40407")
    write_feed(tmp / "bad-id.json", [bad_id])
    (tmp / "latin1.json").write_bytes(json.dumps(feed([dict(CVE_2021_40407, descriptions=[
        {"lang": "en", "value": "Xiongmai caf\u00e9 description text"}])]), ensure_ascii=False).encode().replace(
        "caf\u00e9".encode(), b"caf\xe9"))
    (tmp / "big.json").write_text(good + " " * (1024 * 1024))  # valid, just over 1 MiB
    with open(tmp / "huge-line.csv", "wb") as f:  # a 2 GB line, sparse: costs no disk
        f.write(",".join(KEV_HEADER).encode() + b"\n" + b"CVE-2021-40407,")
        f.truncate(2 * 1024**3)
    with open(tmp / "huge.json", "wb") as f:
        f.write(b'{"format": "NVD_CVE", "version": "2.0", "vulnerabilities": [{"cve": {"id": "')
        f.truncate(2 * 1024**3)
    long_line = ",".join(KEV_HEADER) + "\n" + "CVE-2021-40407," + "A" * 200_000 + "\n"
    (tmp / "long-line.csv").write_text(long_line)
    write_kev(tmp / "missing-columns.csv", [r[:7] for r in KEV_ROWS], header=KEV_HEADER[:7])
    write_kev(tmp / "bad-kev-id.csv", [["CVE-2021-4040X", *KEV_ROWS[0][1:]]])
    write_kev(tmp / "bad-date.csv", [[*KEV_ROWS[0][:4], "18/12/2024", *KEV_ROWS[0][5:]]])
    write_kev(tmp / "short-row.csv", [KEV_ROWS[0][:5]])
    (tmp / "kev-latin1.csv").write_bytes(",".join(KEV_HEADER).encode() + b"\nCVE-2021-40407,Reolink,RLC-410W \xe9\n")
    write_kev(tmp / "only-header.csv", [])
    (tmp / "bomb.json.gz").write_bytes(gzip.compress(b'{"format": "NVD_CVE", "version": "2.0", "vulnerabilities": ['
                                                     + b" " * (3 * 1024 * 1024) + b"]}"))
    return {
        "truncated JSON": (["--cve-feed", "truncated.json"], "not valid JSON"),
        "wrong schema": (["--cve-feed", "not-nvd.json"], "not an NVD CVE JSON 2.0 feed"),
        "retired 1.1 feed": (["--cve-feed", "nvd-1.1.json"], "retired NVD 1.1 feed"),
        "top level not an object": (["--cve-feed", "list.json"], "top level is not an object"),
        "entry without cve": (["--cve-feed", "bad-item.json"], "is not an NVD 2.0 entry"),
        "CVE id": (["--cve-feed", "bad-id.json"], "'CVE-21-40407' is not a CVE id"),
        "non-UTF-8 JSON": (["--cve-feed", "latin1.json"], "invalid bytes in UTF8"),
        "over the size cap": (["--cve-feed", "big.json", "--max-feed-mib", "1"], "over the 1 MiB cap"),
        "2 GB JSON": (["--cve-feed", "huge.json"], "over the 1024 MiB cap"),
        "2 GB CSV line": (["--kev", "huge-line.csv"], "over the 32 MiB cap"),
        "long CSV line": (["--kev", "long-line.csv"], "line 2 is longer than 65536 characters"),
        "missing columns": (["--kev", "missing-columns.csv"], "missing column(s) dueDate"),
        "KEV CVE id": (["--kev", "bad-kev-id.csv"], "'CVE-2021-4040X' is not a CVE id"),
        "KEV date": (["--kev", "bad-date.csv"], "column dateAdded"),
        "short row": (["--kev", "short-row.csv"], "5 fields, the header has 11"),
        "non-UTF-8 CSV": (["--kev", "kev-latin1.csv"], "not UTF-8 text"),
        "header only": (["--kev", "only-header.csv"], "no KEV entries"),
        "decompression bomb": (["--cve-feed", "bomb.json.gz", "--max-feed-mib", "2"], "once decompressed"),
        "missing file": (["--cve-feed", "absent.json"], "cannot read"),
        "good feed, then bad KEV": (["--cve-feed", "big.json", "--kev", "missing-columns.csv"], "missing column"),
    }


def test_hostile_inputs_refused_with_exit_2_and_overlay_untouched(home, tmp_path, inputs, monkeypatch):
    cases = hostile_cases(tmp_path)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    for state in ("no overlay", "an overlay"):
        if state == "an overlay":
            assert runner.invoke(kb, ["update", "--cve-feed", str(inputs[0]), "--kev", str(inputs[1])]).exit_code == 0
        before = snapshot(home / "knowledge")
        version = merged(home).version
        for name, (args, words) in cases.items():
            r = runner.invoke(kb, ["update", *args])
            assert r.exit_code == 2, (state, name, r.output, r.stderr)
            lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
            assert len(lines) == 1 and words in lines[0], (state, name, lines)
            assert "Traceback" not in r.output
            assert snapshot(home / "knowledge") == before, (state, name)
        assert merged(home).version == version


def test_crash_before_the_manifest_leaves_the_old_overlay(home, tmp_path, inputs, monkeypatch):
    upd.import_feeds([inputs[0]], inputs[1], now=NOW)
    version = merged(home).version
    manifest = (home / "knowledge" / "manifest.json").read_bytes()
    real_replace = os.replace

    def crash(src, dst):
        if Path(dst).name == "manifest.json":
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(upd.os, "replace", crash)
    with pytest.raises(OSError):
        upd.import_feeds([write_feed(tmp_path / "one.json", [CVE_2021_40407])], replace=True, now=NOW)
    monkeypatch.setattr(upd.os, "replace", real_replace)
    assert (home / "knowledge" / "manifest.json").read_bytes() == manifest
    assert merged(home).version == version
    # the next update clears what the crash left behind
    upd.import_feeds([inputs[0]], inputs[1], now=NOW)
    names = sorted(p.name for p in (home / "knowledge").iterdir())
    assert len(names) == 4 and not [n for n in names if n.endswith(".tmp")], names


def test_damaged_overlay_is_refused_by_the_loader(home, inputs):
    upd.import_feeds([inputs[0]], inputs[1], now=NOW)
    data = next((home / "knowledge").glob("nvd-*.json"))
    data.write_bytes(data.read_bytes().replace(b"RLC-410W", b"RLC-410X"))
    with pytest.raises(KnowledgeError, match="does not match the SHA-256"):
        merged(home)
    r = CliRunner().invoke(kb, ["status"])
    assert r.exit_code == 3 and "camaudit kb reset" in r.stderr
    r = CliRunner().invoke(kb, ["reset", "--yes"])
    assert r.exit_code == 0 and upd.read_overlay(home) is None
    assert merged(home).version == load_kb(DATA_DIR).version


# ------------------------------------------------------------------ status


def test_status_shows_version_sources_counts_and_age(home, inputs):
    runner = CliRunner()
    r = runner.invoke(kb, ["status"])
    assert r.exit_code == 0 and "no NVD or KEV feed imported" in r.stderr
    r = runner.invoke(kb, ["update", "--cve-feed", str(inputs[0]), "--kev", str(inputs[1])])
    assert r.exit_code == 0, r.stderr
    assert "5 CVEs read, 4 camera CVEs kept (dahua 1, hikvision 1, reolink 2)" in r.stdout
    st = upd.status(now=NOW)
    assert st["version"] == merged(home).version and st["cves_imported"] == 4 and st["kev_entries"] == 4
    assert st["by_vendor"] == {"dahua": 1, "hikvision": 1, "reolink": 2}
    assert [(s["kind"], s["name"], s["read"], s["kept"]) for s in st["sources"]] == [
        ("nvd", "nvdcve-2.0-2021.json", 5, 4), ("kev", "known_exploited_vulnerabilities.csv", 4, 4)]
    assert st["sources"][0]["sha256"] == __import__("hashlib").sha256(inputs[0].read_bytes()).hexdigest()
    assert st["age_days"] == {"nvd": 5, "kev": 295}  # feed timestamp 2025-11-20, newest KEV 2025-02-04
    assert st["warnings"] == [("KEV catalogue is 295 days old (more than 30): bring newer files and run "
                              "`camaudit kb update`")]
    r = runner.invoke(kb, ["status", "--json"])
    assert json.loads(r.stdout)["version"] == st["version"]
    r = runner.invoke(kb, ["status"])
    assert st["version"] in r.stdout and "nvdcve-2.0-2021.json" in r.stdout and "older" not in r.stdout


def test_update_needs_a_file(home):
    r = CliRunner().invoke(kb, ["update"])
    assert r.exit_code == 2 and "give at least one --cve-feed FILE or --kev FILE" in r.stderr


def test_nvd_bounds_compare_with_device_firmware():
    from camaudit.identify.firmware import normalise_firmware
    from camaudit.knowledge.vulns import AffectedRange

    dahua = AffectedRange(fixed=version_text("2.800.0000000.29.r.210630"))
    assert dahua.contains("dahua", "V2.800.0000000.16.R, Build Date: 2020-05-21", normalise_firmware) is True
    assert dahua.contains("dahua", "V2.800.0000000.29.R, Build Date: 2021-06-30", normalise_firmware) is False
    assert dahua.contains("dahua", "V2.820.0000000.5.R, Build Date: 2021-07-05", normalise_firmware) is False
    nvr = AffectedRange(introduced=version_text("4.30.210"), last_affected=version_text("4.31.000"))
    assert nvr.contains("hikvision", "V4.30.210 build 200902", normalise_firmware) is True
    assert nvr.contains("hikvision", "V4.31.102 build 210827", normalise_firmware) is False


def test_update_while_another_runs_is_refused_with_exit_3(home, inputs):
    import fcntl

    upd.import_feeds([inputs[0]], now=NOW)
    before = snapshot(home / "knowledge")
    with open(home / "knowledge" / ".lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        r = CliRunner().invoke(kb, ["update", "--kev", str(inputs[1])])
    assert r.exit_code == 3 and "another knowledge update is running" in r.stderr
    assert snapshot(home / "knowledge") == before
