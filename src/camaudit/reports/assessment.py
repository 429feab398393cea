"""What was assessed on each device, and what was not: the "not identified" state of reports.

A host that answered on a camera port but could not be named is assessed with every check (the
credential checks with the factory defaults most common on cameras and DVRs), yet its report
must not read as a clean bill: its vendor's own defaults, routes and vulnerable firmware could
not be tried.  ``annotate`` adds to each device of a report document::

    "assessment": {"state": "identified" | "not_identified" | "other",
                   "policy": "default" | "all" | "video",
                   "checks_run": [...],
                   "not_run": [{"check": id, "why": code}],   # selected checks that did not run
                   "limits": [code, ...]}                      # what "not identified" cost

``text`` gives the sentences (vi, en) the HTML/PDF reports print for those codes.
"""

from __future__ import annotations

from typing import Any

VIDEO_KINDS = ("camera", "nvr", "dvr")
FIRMWARE_CHECKS = ("vulnerable-firmware", "end-of-support-firmware")

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "state_identified": "Identified",
        "state_not_identified": "Not identified",
        "state_other": "Another kind of device",
        "not_identified_note": ("This device answered on camera ports but could not be identified. It was "
                                "assessed with the tests that need no vendor knowledge; an absence of "
                                "findings here is not a clean bill."),
        "other_note": ("Identified as another kind of device: only the checks harmless on any device ran "
                       "(scan with --all-hosts to run every check)."),
        "tested": "Tested",
        "not_tested": "Not tested",
        "why_other_kind": "not run on another kind of device",
        "why_video_only": "--video-only: not run on a host not identified as a video device",
        "why_firmware_unknown": "vendor and firmware not identified",
        "why_no_service": "nothing to test: the service it needs did not answer",
        "limit_generic_credentials": ("credentials: only the factory defaults most common on cameras and "
                                      "DVRs were tried, not a vendor's own list"),
        "limit_generic_routes": "RTSP: stream routes looked up in the dictionary by prevalence",
        "limit_firmware": "firmware: known vulnerabilities and end of support not judged",
        "no_findings_unidentified": "No weakness found by the tests that ran; the device was not identified.",
        "exec_unidentified": ("{n} host(s) answered on camera ports but could not be identified: they were "
                              "assessed with the tests that need no vendor knowledge and are listed as "
                              "\"not identified\", never as clean."),
        "unidentified_hosts": "Hosts not identified (assessed, not named)",
        "compliance_unidentified": ("{n} device(s) judged although not identified ({addresses}): a clause "
                                    "passed there was tested without the vendor's own knowledge."),
        "compliance_not_judged": ("Not judged against these requirements (identified as another kind of "
                                  "device): {addresses}."),
    },
    "vi": {
        "state_identified": "Đã nhận dạng",
        "state_not_identified": "Chưa nhận dạng",
        "state_other": "Thiết bị loại khác",
        "not_identified_note": ("Thiết bị này trả lời trên các cổng của camera nhưng chưa nhận dạng được. "
                                "Thiết bị đã được kiểm tra bằng các phép thử không cần biết hãng; không có "
                                "phát hiện nào ở đây không có nghĩa là thiết bị an toàn."),
        "other_note": ("Được nhận dạng là loại thiết bị khác: chỉ chạy các phép kiểm tra vô hại với mọi thiết "
                       "bị (quét với --all-hosts để chạy mọi phép kiểm tra)."),
        "tested": "Đã kiểm tra",
        "not_tested": "Chưa kiểm tra",
        "why_other_kind": "không chạy trên thiết bị loại khác",
        "why_video_only": "--video-only: không chạy trên máy chưa được nhận dạng là thiết bị video",
        "why_firmware_unknown": "chưa nhận dạng được hãng và phiên bản firmware",
        "why_no_service": "không có gì để kiểm tra: dịch vụ cần thiết không trả lời",
        "limit_generic_credentials": ("mật khẩu: chỉ thử các mật khẩu mặc định phổ biến nhất trên camera và "
                                      "đầu ghi, không phải danh sách riêng của hãng"),
        "limit_generic_routes": "RTSP: đường dẫn luồng được dò theo từ điển xếp theo mức phổ biến",
        "limit_firmware": "firmware: chưa đánh giá lỗ hổng đã biết và tình trạng hết hỗ trợ",
        "no_findings_unidentified": ("Các phép thử đã chạy không phát hiện điểm yếu nào; thiết bị chưa được "
                                     "nhận dạng."),
        "exec_unidentified": ("{n} máy trả lời trên các cổng của camera nhưng chưa nhận dạng được: các máy này "
                              "đã được kiểm tra bằng các phép thử không cần biết hãng và được ghi là \"chưa "
                              "nhận dạng\", không bao giờ là an toàn."),
        "unidentified_hosts": "Các máy chưa nhận dạng (đã kiểm tra, chưa xác định)",
        "compliance_unidentified": ("{n} thiết bị được đánh giá dù chưa nhận dạng ({addresses}): một tiêu chí "
                                    "đạt ở đó được kiểm tra mà không có thông tin riêng của hãng."),
        "compliance_not_judged": ("Không đánh giá theo các yêu cầu này (được nhận dạng là thiết bị loại "
                                  "khác): {addresses}."),
    },
}


def text(lang: str) -> dict[str, str]:
    return TEXT.get(lang, TEXT["en"])


def state_of(device: dict[str, Any]) -> str:
    kind = (device.get("identity") or {}).get("kind") or "unknown"
    if kind in VIDEO_KINDS:
        return "identified"
    return "other" if kind == "other" else "not_identified"


def _selected(options: dict[str, Any]) -> list[str]:
    import camaudit.checks  # noqa: F401  (registers every check)
    from camaudit.checks.base import REGISTRY

    named = options.get("checks")
    intrusive = set(options.get("intrusive") or ())
    return [cid for cid, c in REGISTRY.items()
            if (named is None or cid in named) and (not c.meta.intrusive or cid in intrusive)]


def _policy(options: dict[str, Any]) -> str:
    return "all" if options.get("all_hosts") else "video" if options.get("video_only") else "default"


def assessment(device: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    from camaudit.checks.base import REGISTRY

    state = state_of(device)
    policy = _policy(options)
    ran = list(device.get("checks_run") or [])
    not_run = []
    if not options.get("discovery_only"):
        for cid in _selected(options):
            if cid in ran:
                continue
            if policy == "video" and state != "identified":
                why = "video_only"
            elif state == "other" and policy == "default" and not REGISTRY[cid].meta.safe:
                why = "other_kind"
            elif cid in FIRMWARE_CHECKS:
                why = "firmware_unknown"
            else:
                why = "no_service"
            not_run.append({"check": cid, "why": why})
    limits = []
    if state == "not_identified" and ran:
        limits = ["generic_credentials", "firmware"]
        if "rtsp" in {o.get("protocol") for o in device.get("observations") or []}:
            limits.insert(1, "generic_routes")
    return {"state": state, "policy": policy, "checks_run": ran, "not_run": not_run, "limits": limits}


def annotate(doc: dict[str, Any]) -> dict[str, Any]:
    """Add ``assessment`` to every device of ``doc`` (in place; kept when already there)."""
    options = (doc.get("scan") or {}).get("options") or {}
    for device in doc.get("devices", []):
        if "assessment" not in device:
            device["assessment"] = assessment(device, options)
    return doc
