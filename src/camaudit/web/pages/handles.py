"""What every page module takes a route's database handle with: one ``Scoped`` alias per
permission (the ``scoped_for`` marker the authorisation matrix reads), the redirect after a
form, the longest text a form field takes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi.params import Depends
from fastapi.responses import RedirectResponse

from camaudit.store.access import Scoped
from camaudit.web.deps import scoped_for

MAX_TEXT = 2000  # longest text accepted in a form field


def _db(perm: str) -> Any:
    return Depends(scoped_for(perm))


OrgRead = Annotated[Scoped, _db("org:read")]
Overview = Annotated[Scoped, _db("finding:read")]
SystemRead = Annotated[Scoped, _db("system:read")]
SystemCreate = Annotated[Scoped, _db("system:write")]
ScanCreate = Annotated[Scoped, _db("scan:run")]
ScanRead = Annotated[Scoped, _db("scan:read")]
ReportRead = Annotated[Scoped, _db("scan:read")]
FindingRead = Annotated[Scoped, _db("finding:read")]
FindingDecide = Annotated[Scoped, _db("finding:decide")]
StatsRead = Annotated[Scoped, _db("stats:read")]
AttestationWrite = Annotated[Scoped, _db("attestation:write")]


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)
