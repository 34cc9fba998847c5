"""The public catalog: published credentials and each one's page, no sign-in needed."""

import re
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import TypeAdapter, ValidationError

from api.charts import pathway_drawing
from api.deps import ReadSessionDep
from api.web import MaybeWebUser, render, settings_of
from workflow.awards import service as awards
from workflow.credentials import catalog as listing
from workflow.errors import NotFound
from workflow.fields import Code
from workflow.proposals.models import Competency, Level, Modality

# MaybeWebUser: nobody needs to sign in, but whoever has sees their own menu.
router = APIRouter(include_in_schema=False)
PAGE_SIZE = 20
PUBLIC_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")
Filter = Annotated[str | None, Query(max_length=100)]
# The form's choices for `active`; absent means active only, the catalog a learner wants.
SHOWN = {"true": True, "": None, "false": False}
YES_NO = {"": None, "true": True, "false": False}


def _filters(department: str | None, competency: str | None, level: str | None,
             modality: str | None, credit_bearing: str | None, active: str | None
             ) -> tuple[dict[str, str], dict[str, Any], list[str]]:
    """The form's values as sent, the catalog's arguments, and what was wrong with them."""
    sent = {"department": department or "", "competency": competency or "",
            "level": level or "", "modality": modality or "",
            "credit_bearing": credit_bearing or "", "active": "true" if active is None else active}
    problems: list[str] = []
    chosen: dict[str, Any] = {}
    if sent["department"]:
        try:
            chosen["department"] = TypeAdapter(Code).validate_python(sent["department"])
        except ValidationError:
            problems.append(f"department: {sent['department']!r} is not a department code")
    for name, kind in (("competency", Competency), ("level", Level), ("modality", Modality)):
        allowed = [member.value for member in kind]
        if sent[name] and sent[name] not in allowed:
            problems.append(f"{name}: {sent[name]!r} is not one of {', '.join(allowed)}")
        elif sent[name]:
            chosen[name] = sent[name]
    for name, values in (("credit_bearing", YES_NO), ("active", SHOWN)):
        if sent[name] not in values:
            problems.append(f"{name}: {sent[name]!r} is not one of "
                            f"{', '.join(v for v in values if v) or 'empty'}, or empty")
        else:
            chosen[name] = values[sent[name]]
    return sent, chosen, problems


@router.get("/credentials", response_class=HTMLResponse)
def catalog(
    request: Request, session: ReadSessionDep, _me: MaybeWebUser, department: Filter = None,
    competency: Filter = None, level: Filter = None, modality: Filter = None,
    credit_bearing: Filter = None, active: Filter = None,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = PAGE_SIZE,
) -> HTMLResponse:
    sent, chosen, problems = _filters(department, competency, level, modality,
                                      credit_bearing, active)
    context: dict[str, Any] = {
        "sent": sent, "problems": problems, "items": [], "next_url": None,
        "departments": listing.catalog_departments(session),
        "competencies": list(Competency), "levels": list(Level), "modalities": list(Modality),
        "first_url": "/credentials?" + urlencode(sent) if cursor else None,
    }
    if problems:
        return render(request, "catalog.html", status_code=422, **context)
    page = listing.catalog(session, settings_of(request), limit=limit,
                           cursor=cursor or None, **chosen)
    context["items"] = page.items
    if page.next_cursor:
        more = {**sent, "cursor": page.next_cursor}
        if limit != PAGE_SIZE:
            more["limit"] = str(limit)
        context["next_url"] = "/credentials?" + urlencode(more)
    return render(request, "catalog.html", **context)


@router.get("/credentials/{public_id}", response_class=HTMLResponse)
def credential_page(public_id: str, request: Request, session: ReadSessionDep,
                    me: MaybeWebUser) -> HTMLResponse:
    if not PUBLIC_ID.fullmatch(public_id):
        raise NotFound("no such credential")
    credential = listing.one(session, public_id, settings_of(request))
    pathway = listing.pathway(session, public_id)
    stored = listing.by_public_id(session, public_id)
    may_see_awards = me is not None and awards.may_see_awards(session, me, stored)
    return render(request, "credential.html", c=credential, pathway=pathway,
                  may_see_awards=may_see_awards,
                  drawing=pathway_drawing(pathway) if len(pathway.nodes) > 1 else None)
