"""The caller, departments, audit verification."""

from fastapi import APIRouter, status
from sqlmodel import col, select

from api import errors
from api.deps import CurrentUser, ReadSessionDep, SessionDep, require
from workflow import audit
from workflow.accounts.models import Department, DepartmentCreate, DepartmentPublic, Me, Role
from workflow.accounts.service import add_department, describe
from workflow.audit import AuditVerification

router = APIRouter(prefix="/api")

@router.get("/me", tags=["accounts"], responses=errors.responses(401))
def me(session: ReadSessionDep, grants: CurrentUser) -> Me:
    return describe(session, grants)


@router.get("/departments", tags=["accounts"], responses=errors.responses(401))
def list_departments(session: ReadSessionDep, _grants: CurrentUser) -> list[DepartmentPublic]:
    rows = session.exec(select(Department).order_by(col(Department.code))).all()
    return [DepartmentPublic(code=d.code, name=d.name) for d in rows]


@router.post(
    "/departments", tags=["accounts"], status_code=status.HTTP_201_CREATED,
    dependencies=[require(Role.ADMIN)],
    responses=errors.responses(400, 401, 403, 409, 422, e409="The code is taken"),
)
def create_department(body: DepartmentCreate, session: SessionDep) -> DepartmentPublic:
    department = add_department(session, body)
    return DepartmentPublic(code=department.code, name=department.name)


@router.get(
    "/audit/verify", tags=["audit"], dependencies=[require(Role.COORDINATOR, Role.ADMIN)],
    responses=errors.responses(401, 403),
)
def verify_audit(session: ReadSessionDep) -> AuditVerification:
    result = audit.verify(session)
    return AuditVerification(ok=result.ok, entries=result.entries, first_bad=result.first_bad)
