"""The coordinator's overview and the admin pages."""

import json
from typing import Annotated

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import TypeAdapter, ValidationError

from api.charts import bars
from api.deps import ReadSessionDep, SessionDep
from api.pages.credential_reviews import overview_sections
from api.web import CsrfChecked, chosen_value, render, see_other, settings_of, web_role
from notifications import outbox
from notifications.models import OutboxStatus
from workflow import audit, dashboard
from workflow.access import Grants
from workflow.accounts.models import DepartmentCreate, Role
from workflow.accounts.service import add_department, add_user
from workflow.errors import Unprocessable
from workflow.fields import MAX_ID, Email
from workflow.reviews import rubrics

router = APIRouter(include_in_schema=False)
Coordinator = Annotated[Grants, web_role(Role.COORDINATOR, Role.ADMIN)]
Admin = Annotated[Grants, web_role(Role.ADMIN)]


@router.get("/overview", response_class=HTMLResponse)
def overview(request: Request, session: ReadSessionDep, _me: Coordinator) -> HTMLResponse:
    summary = dashboard.overview(session, settings_of(request).reminder_days)
    return render(request, "overview.html", summary=summary,
                  count_bars=bars({k: float(v) for k, v in summary.counts.items()}),
                  day_bars=bars(dict(summary.median_days)),
                  **overview_sections(session, settings_of(request)))


@router.get("/admin", response_class=HTMLResponse)
def admin_home(request: Request, session: ReadSessionDep, _me: Admin) -> HTMLResponse:
    return render(request, "admin.html", users=dashboard.users_with_roles(session),
                  departments=dashboard.all_departments(session),
                  rubrics=rubrics.list_rubrics(session), all_roles=list(Role))


@router.post("/admin/users", dependencies=[CsrfChecked])
def admin_add_user(
    session: SessionDep, _me: Admin,
    email: Annotated[str, Form(max_length=254)], name: Annotated[str, Form(max_length=200)],
    role: Annotated[list[Role], Form(max_length=5)],
    department: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    try:
        address = TypeAdapter(Email).validate_python(email)
    except ValidationError as error:
        raise Unprocessable(f"{email!r} is not an email address") from error
    if not name.strip():
        raise Unprocessable("the name cannot be empty")
    add_user(session, address, name.strip(), role, department or None)
    return see_other("/admin?done=user_saved")


@router.post("/admin/departments", dependencies=[CsrfChecked])
def admin_add_department(
    session: SessionDep, _me: Admin,
    code: Annotated[str, Form(max_length=32)], name: Annotated[str, Form(max_length=200)],
) -> Response:
    try:
        data = DepartmentCreate(code=code, name=name)
    except ValidationError as error:
        raise Unprocessable([{"msg": f"{e['loc'][0]}: {e['msg']}"} for e in error.errors()]
                            ) from error
    add_department(session, data)
    return see_other("/admin?done=department_added")


@router.post("/admin/rubrics", dependencies=[CsrfChecked])
def admin_add_rubric(session: SessionDep, me: Admin,
                     definition: Annotated[str, Form(max_length=200_000)]) -> Response:
    try:
        data = json.loads(definition)
    except json.JSONDecodeError as error:
        raise Unprocessable(f"the rubric is not valid JSON: {error}") from error
    rubrics.add_rubric(session, data, me.user)
    return see_other("/admin?done=rubric_added")


@router.get("/admin/outbox", response_class=HTMLResponse)
def admin_outbox(request: Request, session: ReadSessionDep, _me: Admin,
                 status: Annotated[str | None, Query(max_length=32)] = None,
                 cursor: Annotated[str | None, Query(max_length=64)] = None) -> HTMLResponse:
    wanted = chosen_value((s.value for s in OutboxStatus), status, "status")
    rows, next_cursor = outbox.list_messages(session, status=wanted, limit=50, cursor=cursor)
    return render(request, "admin_outbox.html", rows=rows, next_cursor=next_cursor,
                  statuses=list(OutboxStatus), chosen=wanted or "")


@router.post("/admin/outbox/{outbox_id}/retry", dependencies=[CsrfChecked])
def admin_retry(outbox_id: Annotated[int, Path(ge=1, le=MAX_ID)], session: SessionDep,
                me: Admin) -> Response:
    outbox.retry(session, outbox_id, me.user)
    return see_other("/admin/outbox?status=dead&done=queued_again")


@router.get("/admin/audit", response_class=HTMLResponse)
def admin_audit(request: Request, session: ReadSessionDep, _me: Coordinator) -> HTMLResponse:
    return render(request, "admin_audit.html", result=audit.verify(session))
