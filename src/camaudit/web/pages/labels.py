"""Labels the pages show for codes (severity, status, role...), translated at render time."""

from __future__ import annotations

from camaudit.web.i18n import gettext as _


def severity_label(code: str) -> str:
    return {"critical": _("Critical"), "high": _("High"), "medium": _("Medium"), "low": _("Low"),
            "info": _("Info")}.get(code, code)


def status_label(code: str) -> str:
    return {"open": _("Open"), "fixed": _("Fixed"), "reopened": _("Reopened"), "accepted": _("Accepted"),
            "false_positive": _("False positive")}.get(code, code)


def scan_status_label(code: str) -> str:
    return {"queued": _("Queued"), "running": _("Running"), "finished": _("Finished"),
            "interrupted": _("Interrupted"), "failed": _("Failed"), "refused": _("Refused")}.get(code, code)


def role_label(code: str) -> str:
    return {"agency_operator": _("Agency operator"), "agency_head": _("Agency head"),
            "steering_officer": _("Steering officer"), "provincial_viewer": _("Provincial viewer"),
            "police_viewer": _("Police viewer"), "market_viewer": _("Market surveillance viewer"),
            "isp_operator": _("ISP operator"), "admin": _("Administrator")}.get(code, code)


def dimension_label(code: str) -> str:
    return {"vendor": _("Vendor"), "model": _("Model"), "firmware": _("Firmware"),
            "commune": _("Commune / ward")}.get(code, code)


def compliance_label(code: str) -> str:
    return {"pass": _("Pass"), "fail": _("Fail"), "attestation": _("Needs evidence"),
            "not_tested": _("Not tested"), "na": _("Not applicable")}.get(code, code)


GLOBALS = {"severity_label": severity_label, "status_label": status_label, "compliance_label": compliance_label,
           "scan_status_label": scan_status_label, "role_label": role_label}
