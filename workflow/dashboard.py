"""The web pages' reads: what waits for whom, time per stage, the people to choose from."""

import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_
from sqlmodel import Session, col, func, select

from workflow.access import Grants, co_authored_by, standing
from workflow.accounts.models import DEPARTMENT_ROLES, Department, Role, RoleGrant, User
from workflow.audit import AuditEntry
from workflow.credentials.models import BadgeDesign
from workflow.fields import as_utc, utcnow
from workflow.machine import REVIEW_STAGES, State
from workflow.proposals.models import Proposal
from workflow.reviews.models import Review, ReviewerAssignment


@dataclass(frozen=True)
class Task:
    proposal_id: int
    title: str
    department: str
    state: str
    as_role: str
    what: str
    since: datetime
    overdue: bool


def entered_state(session: Session, proposal_ids: list[int]) -> dict[int, datetime]:
    """When each proposal entered its current state: its newest accepted state change."""
    if not proposal_ids:
        return {}
    rows = session.exec(
        select(AuditEntry.proposal_id, func.max(AuditEntry.at))
        .where(col(AuditEntry.proposal_id).in_(proposal_ids), AuditEntry.outcome == "accepted",
               col(AuditEntry.to_state).is_not(None),
               or_(col(AuditEntry.from_state).is_(None),
                   col(AuditEntry.from_state) != col(AuditEntry.to_state)))
        .group_by(col(AuditEntry.proposal_id))
    ).all()
    return {pid: as_utc(at) for pid, at in rows if pid is not None}


def _department_codes(session: Session) -> dict[int, str]:
    return {d.id or 0: d.code for d in session.exec(select(Department)).all()}


def my_tasks(session: Session, grants: Grants, reminder_days: float) -> list[Task]:
    """What waits for this user now, by role, oldest first; overdue after `reminder_days`."""
    wanted: list[tuple[Proposal, str, str]] = []
    user_id = grants.user.id
    mine = or_(col(Proposal.owner_id) == user_id, co_authored_by(grants.user.email))
    for p in session.exec(select(Proposal).where(
            mine, col(Proposal.state).in_([State.DRAFT.value, State.RETURNED.value]))).all():
        what = "finish and submit" if p.state == State.DRAFT.value else "revise and resubmit"
        if p.owner_id == user_id:
            wanted.append((p, "submitter", what))
    # The coordinator cannot approve the design until its owner has uploaded one.
    for p in session.exec(select(Proposal).where(
            Proposal.owner_id == user_id, Proposal.state == State.DESIGN_REVIEW.value,
            ~select(BadgeDesign.id).where(BadgeDesign.proposal_id == Proposal.id).exists())
            ).all():
        wanted.append((p, "submitter", "upload the badge design"))
    led = [d for r, d in grants.department_roles if r is Role.DEPARTMENT_LEAD]
    if led:
        for p in session.exec(select(Proposal).where(
                Proposal.state == State.DEPARTMENT_REVIEW.value,
                col(Proposal.department_id).in_(led))).all():
            if not standing(grants, p).authors:
                wanted.append((p, "department_lead", "approve, return or reject"))
    if grants.has(Role.COORDINATOR):
        for p in session.exec(select(Proposal).where(col(Proposal.state).in_(
                [State.RUBRIC_REVIEW.value, State.DESIGN_REVIEW.value]))).all():
            if not standing(grants, p).authors:
                what = ("assign reviewers, then approve, return or reject"
                        if p.state == State.RUBRIC_REVIEW.value else "approve the badge design")
                wanted.append((p, "coordinator", what))
    if grants.has(Role.REVIEWER):
        assigned = session.exec(
            select(Proposal).join(ReviewerAssignment,
                                  col(ReviewerAssignment.proposal_id) == Proposal.id)
            .where(ReviewerAssignment.reviewer_id == user_id,
                   Proposal.state == State.RUBRIC_REVIEW.value)).all()
        scored = set(session.exec(select(Review.proposal_id, Review.round).where(
            Review.reviewer_id == user_id)).all())
        for p in assigned:
            if (p.id, p.review_round) not in scored:
                wanted.append((p, "reviewer", "score against the rubric"))
    since = entered_state(session, [p.id or 0 for p, _, _ in wanted])
    codes = _department_codes(session)
    limit = timedelta(days=reminder_days)
    now = utcnow()
    tasks = [
        Task(proposal_id=p.id or 0, title=p.title, department=codes.get(p.department_id, ""),
             state=p.state, as_role=role, what=what,
             since=since.get(p.id or 0, as_utc(p.updated_at)),
             overdue=State(p.state) in REVIEW_STAGES
             and now - since.get(p.id or 0, as_utc(p.updated_at)) > limit)
        for p, role, what in wanted
    ]
    return sorted(tasks, key=lambda t: t.since)


@dataclass(frozen=True)
class Overview:
    counts: dict[str, int]
    median_days: dict[str, float | None]
    overdue: list[Task]


def stage_durations(session: Session, since: datetime) -> dict[str, list[float]]:
    """Days each proposal spent in each review stage, for stays that ended after `since`."""
    entries = session.exec(
        select(AuditEntry.proposal_id, AuditEntry.at, AuditEntry.from_state, AuditEntry.to_state)
        .where(AuditEntry.outcome == "accepted", col(AuditEntry.proposal_id).is_not(None),
               col(AuditEntry.to_state).is_not(None))
        .order_by(col(AuditEntry.seq))
    ).all()
    entered: dict[tuple[int, str], datetime] = {}
    days: dict[str, list[float]] = defaultdict(list)
    for pid, at, source, dest in entries:
        if source == dest or pid is None or dest is None:
            continue
        moment = as_utc(at)
        if source is not None and (pid, source) in entered:
            start = entered.pop((pid, source))
            if moment >= since:
                days[source].append((moment - start).total_seconds() / 86400)
        entered[(pid, dest)] = moment
    return days


def overview(session: Session, reminder_days: float) -> Overview:
    """Counts per state, median days per review stage over 12 months, overdue proposals."""
    counts = {s.value: 0 for s in State}
    for state, count in session.exec(
            select(Proposal.state, func.count()).group_by(col(Proposal.state))).all():
        counts[state] = count
    durations = stage_durations(session, utcnow() - timedelta(days=365))
    median_days = {s.value: (round(statistics.median(durations[s.value]), 1)
                             if durations.get(s.value) else None) for s in REVIEW_STAGES}
    waiting = session.exec(select(Proposal).where(
        col(Proposal.state).in_([s.value for s in REVIEW_STAGES]))).all()
    since = entered_state(session, [p.id or 0 for p in waiting])
    codes = _department_codes(session)
    now = utcnow()
    overdue = [
        Task(proposal_id=p.id or 0, title=p.title, department=codes.get(p.department_id, ""),
             state=p.state, as_role="", what="", since=since.get(p.id or 0, now), overdue=True)
        for p in waiting
        if now - since.get(p.id or 0, now) > timedelta(days=reminder_days)
    ]
    return Overview(counts=counts, median_days=median_days,
                    overdue=sorted(overdue, key=lambda t: t.since))


def changes_since_return(history: list[Any]) -> dict[str, dict[str, Any]]:
    """Each field edited since the proposal was last returned: its value then and now."""
    last_return = max((i for i, e in enumerate(history)
                       if e.outcome == "accepted" and e.to_state == State.RETURNED.value
                       and e.from_state != State.RETURNED.value), default=None)
    if last_return is None:
        return {}
    changed: dict[str, dict[str, Any]] = {}
    for entry in history[last_return + 1:]:
        if entry.action != "edit" or entry.outcome != "accepted":
            continue
        for name, change in entry.detail.get("changes", {}).items():
            first = changed.get(name, change)
            changed[name] = {"before": first["before"], "after": change["after"]}
    return {k: v for k, v in changed.items() if v["before"] != v["after"]}


def member_departments(session: Session, grants: Grants) -> list[Department]:
    """The departments this user may draft proposals for."""
    ids = [d for r, d in grants.department_roles if r in DEPARTMENT_ROLES]
    return list(session.exec(select(Department).where(col(Department.id).in_(ids))
                             .order_by(col(Department.code))).all())


def all_departments(session: Session) -> list[Department]:
    """Every department, by code: the proposal list filters by any of them."""
    return list(session.exec(select(Department).order_by(col(Department.code))).all())


def active_reviewers(session: Session) -> list[User]:
    """Everyone the coordinator may pick from when assigning reviewers."""
    return list(session.exec(
        select(User).join(RoleGrant, col(RoleGrant.user_id) == User.id)
        .where(RoleGrant.role == Role.REVIEWER.value, User.is_active == True)  # noqa: E712
        .order_by(col(User.email))).all())


def users_with_roles(session: Session) -> list[tuple[User, list[str]]]:
    """Every user with their roles in words ("department lead (CS)"), by email."""
    codes = _department_codes(session)
    roles: dict[int, list[str]] = defaultdict(list)
    for grant in session.exec(select(RoleGrant).order_by(col(RoleGrant.id))).all():
        where = f" ({codes.get(grant.department_id, '?')})" if grant.department_id else ""
        roles[grant.user_id].append(grant.role.replace("_", " ") + where)
    users = session.exec(select(User).order_by(col(User.email))).all()
    return [(user, roles.get(user.id or 0, [])) for user in users]
