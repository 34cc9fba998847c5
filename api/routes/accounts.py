"""Health, the caller, departments, audit verification."""

from typing import Any

from fastapi import APIRouter, status
from sqlmodel import col, select

from api.deps import CurrentUser, ReadSessionDep, SessionDep, require
from workflow import audit
from workflow.accounts import add_department, describe
from workflow.models import (
    AuditVerification,
    Department,
    DepartmentCreate,
    DepartmentPublic,
    Me,
    Role,
)

router = APIRouter(prefix="/api")

AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No or bad credentials"},
    403: {"description": "Not allowed"},
}


@router.get("/health", tags=["service"])
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/me", tags=["accounts"], responses=AUTH_ERRORS)
def me(session: ReadSessionDep, grants: CurrentUser) -> Me:
    return describe(session, grants)


@router.get("/departments", tags=["accounts"], responses=AUTH_ERRORS)
def list_departments(session: ReadSessionDep, _grants: CurrentUser) -> list[DepartmentPublic]:
    rows = session.exec(select(Department).order_by(col(Department.code))).all()
    return [DepartmentPublic(code=d.code, name=d.name) for d in rows]


@router.post(
    "/departments", tags=["accounts"], status_code=status.HTTP_201_CREATED,
    dependencies=[require(Role.ADMIN)],
    responses={**AUTH_ERRORS, 409: {"description": "The code is taken"},
               422: {"description": "Invalid input"}},
)
def create_department(body: DepartmentCreate, session: SessionDep) -> DepartmentPublic:
    department = add_department(session, body)
    return DepartmentPublic(code=department.code, name=department.name)


@router.get(
    "/audit/verify", tags=["audit"], dependencies=[require(Role.COORDINATOR, Role.ADMIN)],
    responses=AUTH_ERRORS,
)
def verify_audit(session: ReadSessionDep) -> AuditVerification:
    result = audit.verify(session)
    return AuditVerification(ok=result.ok, entries=result.entries, first_bad=result.first_bad)
