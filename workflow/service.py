"""The one door through which every proposal is created, edited and moved.

Each function checks (access, state, version, requirements), then changes,
audits and commits once. A refusal rolls back whatever was begun and commits
only its own audit entry.
"""

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from plumbing.settings import Settings
from rubric.checks import Check, prescreen
from rubric.checks import errors as check_errors
from workflow import audit, events, queries
from workflow.access import (
    Grants,
    Standing,
    best_role,
    can_view,
    edit_problem,
    grants_of,
    permission_problem,
    role_name,
    standing,
)
from workflow.accounts.models import DEPARTMENT_ROLES, Department, User
from workflow.audit import AuditEntry, Channel
from workflow.credentials import badges, publishing
from workflow.errors import Conflict, Forbidden, NotFound, UnknownTrigger, Unprocessable, problem
from workflow.fields import as_utc, utcnow
from workflow.machine import (
    GUARDS,
    TRANSITIONS,
    TRIGGERS,
    Facts,
    Requirement,
    State,
    Transition,
    fire,
    route,
    rows_for,
    unmet_reason,
)
from workflow.meetings import schedule
from workflow.proposals.co_authors import co_author_problems
from workflow.proposals.models import (
    EDITABLE_FIELDS,
    AvailableAction,
    Proposal,
    ProposalCreate,
    ProposalUpdate,
)
from workflow.reviews import assignment, reviewing, visibility


def checks_for(session: Session, proposal: Proposal, *, warnings: bool = True) -> list[Check]:
    """The pre-screen results; without warnings, the rules that block cost no catalog scan."""
    catalog = queries.catalog_for_checks(session) if warnings else []
    return prescreen(proposal, catalog,
                     resolve=lambda name: queries.published_credential(session, name))


def prescreen_refusal(session: Session, proposal: Proposal) -> list[dict[str, Any]]:
    """The pre-screen errors, shaped like FastAPI's own 422 items so clients read both alike."""
    return [
        problem(check.message, check.field, kind=f"prescreen.{check.code}")
        for check in check_errors(checks_for(session, proposal, warnings=False))
    ]


def gather_facts(
    session: Session, proposal: Proposal, requires: tuple[Requirement, ...], comment: str | None
) -> Facts:
    """Collect only the data the requirements at hand need."""
    prescreen_errors: tuple[str, ...] = ()
    if Requirement.PRESCREEN_CLEAN in requires:
        blocking = check_errors(checks_for(session, proposal, warnings=False))
        prescreen_errors = tuple(c.message for c in blocking)
    rubric_passed, rubric_reason = False, "no rubric result yet"
    if Requirement.RUBRIC_PASSED in requires:
        result = reviewing.result_of(session, proposal)
        if result is not None:
            rubric_passed = result.passed
            rubric_reason = "; ".join(result.reasons) or "passed"
    design_reason: str | None = "no badge design yet"
    if Requirement.BADGE_DESIGN_VALID in requires:
        design_reason = badges.design_problem(session, proposal.id or 0)
    return Facts(
        returned_from=State(proposal.returned_from) if proposal.returned_from else None,
        prescreen_errors=prescreen_errors,
        rubric_passed=rubric_passed,
        rubric_reason=rubric_reason,
        badge_design_valid=design_reason is None,
        badge_design_reason=design_reason or "valid",
        comment=comment,
    )


def apply(
    session: Session,
    proposal_id: int,
    trigger: str,
    actor: User,
    via: str | Channel,
    *,
    settings: Settings,
    comment: str | None = None,
    version: int | None = None,
    grants: Grants | None = None,
) -> Proposal:
    """Fire a trigger on a proposal: check, change, audit, publish or retire when the table's
    row says so, record the event its emails come from, and commit once.

    `grants` may carry the actor's roles as the request already read them.
    """
    if trigger not in TRIGGERS:
        raise UnknownTrigger(f"unknown action {trigger!r}")
    channel = str(via)
    comment = comment.strip() if comment and comment.strip() else None
    proposal = queries.locked_proposal(session, proposal_id)
    grants = _grants(session, actor, grants)
    who = standing(grants, proposal)
    state = State(proposal.state)
    row: Transition | None = None
    try:
        row = _check_transition(session, proposal, trigger, who, state, version)
        facts = gather_facts(session, proposal, row.requires, comment)
        unmet = [r for r in row.requires if not GUARDS[r](facts)]
        if unmet == [Requirement.PRESCREEN_CLEAN]:
            raise Unprocessable(prescreen_refusal(session, proposal))
        if unmet:
            raise Unprocessable("; ".join(unmet_reason(r, facts) for r in unmet))
    except (NotFound, Conflict, Forbidden, Unprocessable) as refusal:
        role = role_name(row, state) if row else best_role(grants, _claimable_roles(trigger, state))
        audit.record_refusal(
            session, refusal, actor=actor, role=role, channel=channel, action=trigger,
            proposal_id=proposal_id, from_state=state.value, version=proposal.version,
            detail={"comment": comment} if comment else None,
        )
        raise

    new_state = fire(trigger, state, facts)
    proposal.state = new_state.value
    proposal.returned_from = state.value if new_state is State.RETURNED else None
    proposal.version += 1
    proposal.updated_at = utcnow()
    if new_state is State.DEPARTMENT_REVIEW and proposal.submitted_at is None:
        proposal.submitted_at = proposal.updated_at  # from now on readable by every user
    detail: dict[str, Any] = {"comment": comment} if comment else {}
    if visibility.releases_round(state, new_state):
        # The coordinator's decision releases the round's comments to the authors.
        proposal.released_round = proposal.review_round
        detail[visibility.RELEASED] = proposal.review_round
    if new_state is State.RUBRIC_REVIEW:
        assignment.open_round(session, proposal, settings.rubric_key)
    elif state is State.RUBRIC_REVIEW:
        detail |= schedule.settle(session, proposal, trigger, actor)
    audit.append(
        session, actor=actor, role=role_name(row, state), channel=channel, action=trigger,
        from_state=state.value, to_state=new_state.value, proposal_id=proposal.id,
        version=proposal.version, detail=detail,
    )
    if new_state is State.RUBRIC_REVIEW:
        schedule.place_on_next(session, proposal, actor=actor, channel=channel, settings=settings)
    try:
        if new_state is State.PUBLISHED:
            publishing.publish(session, proposal, actor=actor, channel=channel,
                               settings=settings)
        elif new_state is State.RETIRED:
            publishing.retire(session, proposal, settings=settings)
    except Unprocessable:
        session.rollback()
        raise
    kind = events.for_transition(trigger, state, new_state)
    if kind is not None:
        events.record(session, events.ProposalEvent(
            kind, proposal_id, new_state, proposal.version, actor_id=actor.id, comment=comment))
    session.commit()
    return proposal


def _grants(session: Session, actor: User, given: Grants | None) -> Grants:
    """The actor's roles: as the request already read them, or from the database."""
    return given if given is not None and given.user.id == actor.id else grants_of(session, actor)


def _claimable_roles(trigger: str, state: State) -> list[str]:
    return [role_name(row, s) for row in rows_for(trigger, state) for s in row.source if s == state]


def check_version(proposal: Proposal, version: int | None) -> None:
    """Refuse a change made against a version of the proposal that is no longer current."""
    if version is not None and version != proposal.version:
        raise Conflict(
            f"the proposal changed since you loaded it (your version {version}, "
            f"now {proposal.version}); reload and try again"
        )


def _check_transition(
    session: Session,
    proposal: Proposal, trigger: str, who: Standing, state: State, version: int | None,
) -> Transition:
    if not can_view(who, state):
        raise NotFound("no such proposal")
    check_version(proposal, version)
    facts = Facts(returned_from=State(proposal.returned_from) if proposal.returned_from else None)
    row = route(trigger, state, facts)
    if row is not None:
        problem = permission_problem(row, state, who)
        if problem is None:
            return row
        if not may_fire_elsewhere(trigger, state, who):
            raise Forbidden(problem)
    # The caller could do this at another stage: the proposal has moved on (or is not there yet).
    raise Conflict(moved_on(session, proposal, trigger, state))


def may_fire_elsewhere(trigger: str, state: State, who: Standing) -> bool:
    return any(
        permission_problem(row, source, who) is None
        for row in TRANSITIONS if row.trigger == trigger
        for source in row.source if source != state
    )


def moved_on(session: Session, proposal: Proposal, trigger: str, state: State) -> str:
    """Say why the trigger cannot happen now, naming who last moved the proposal."""
    message = f"cannot {trigger} a proposal in state {state.value}"
    last = session.exec(
        select(AuditEntry).where(AuditEntry.proposal_id == proposal.id,
                                 AuditEntry.outcome == "accepted",
                                 col(AuditEntry.to_state).is_not(None))
        .order_by(col(AuditEntry.seq).desc()).limit(1)
    ).first()
    if last is not None and last.action != "create":
        when = as_utc(last.at).strftime("%Y-%m-%d %H:%M UTC")
        message += f": {last.actor_email} did {last.action} on {when}"
    return message


def available_triggers(
    session: Session, proposal: Proposal, grants: Grants
) -> list[AvailableAction]:
    """The triggers this user may fire now, with what each still needs."""
    who = standing(grants, proposal)
    state = State(proposal.state)
    facts = Facts(returned_from=State(proposal.returned_from) if proposal.returned_from else None)
    actions = []
    for trigger in TRIGGERS:
        row = route(trigger, state, facts)
        if row is None or permission_problem(row, state, who):
            continue
        full = gather_facts(session, proposal, row.requires, comment="-")
        unmet = [
            unmet_reason(r, full) for r in row.requires
            if r is not Requirement.COMMENT and not GUARDS[r](full)
        ]
        actions.append(
            AvailableAction(
                trigger=trigger, to_state=row.dest.value,
                comment_required=Requirement.COMMENT in row.requires,
                ready=not unmet, unmet=unmet,
            )
        )
    return actions


def visible_proposal(session: Session, proposal_id: int, grants: Grants) -> Proposal:
    """The proposal if the caller may see it (else 404, as for one that does not exist), read
    afresh with its owner and department. Every read of one proposal starts here."""
    proposal = queries.read_proposal(session, proposal_id)
    if proposal is None or not can_view(standing(grants, proposal), State(proposal.state)):
        raise NotFound("no such proposal")
    return proposal


def create_proposal(
    session: Session, data: ProposalCreate, actor: User, via: str | Channel,
    grants: Grants | None = None, settings: Settings | None = None,
) -> Proposal:
    """Start a draft owned by the actor in one of their departments (`settings` for the
    allowed co-author domains; without them, the domains of existing users)."""
    department = session.exec(select(Department).where(Department.code == data.department)).first()
    grants = _grants(session, actor, grants)
    try:
        if department is None:
            raise Unprocessable([problem("unknown department", "department")])
        if not any(dept == department.id for role, dept in grants.department_roles
                   if role in DEPARTMENT_ROLES):
            raise Forbidden(f"you are not a member of department {department.code}")
        _check_predecessor(session, data.predecessor_id, department.id or 0)
        unknown = co_author_problems(session, data.co_authors, settings)
        if unknown:
            raise Unprocessable(unknown)
    except (Forbidden, Unprocessable):
        session.rollback()
        raise
    proposal = Proposal(
        **data.model_dump(exclude={"department"}),
        department_id=department.id or 0,
        owner_id=actor.id or 0,
    )
    session.add(proposal)
    session.flush()
    audit.append(
        session, actor=actor, role="submitter", channel=str(via), action="create",
        to_state=State.DRAFT.value, proposal_id=proposal.id, version=proposal.version,
        detail={"title": proposal.title, "department": department.code},
    )
    session.commit()
    return proposal


def _check_predecessor(session: Session, predecessor_id: int | None, department_id: int
                       ) -> None:
    """A proposal replaces only a published credential of its own department: publishing it
    supersedes the predecessor, which nobody else may decide for that department."""
    if predecessor_id is None:
        return
    predecessor = session.get(Proposal, predecessor_id)
    if predecessor is None or predecessor.state != State.PUBLISHED.value:
        raise Unprocessable([problem("the predecessor must be a published credential",
                                     "predecessor_id")])
    if predecessor.department_id != department_id:
        raise Forbidden("the predecessor belongs to another department; only its own "
                        "department can replace it (by revising it)")


# Fields an edit may not set to null: the columns the table declares NOT NULL.
REQUIRED_FIELDS = frozenset(
    column.name for column in Proposal.__table__.columns  # type: ignore[attr-defined]
    if not column.nullable
)


def edit_proposal(
    session: Session, proposal_id: int, changes: ProposalUpdate, actor: User, via: str | Channel,
    grants: Grants | None = None, settings: Settings | None = None,
) -> Proposal:
    """Apply an owner's edit in draft or returned; audit each changed field before and after."""
    channel = str(via)
    proposal = queries.locked_proposal(session, proposal_id)
    who = standing(_grants(session, actor, grants), proposal)
    state = State(proposal.state)
    requested = changes.model_dump(exclude_unset=True, exclude={"version"}, mode="json")
    try:
        if not can_view(who, state):
            raise NotFound("no such proposal")
        check_version(proposal, changes.version)
        refusal = edit_problem(who, state)
        if refusal is not None:
            raise refusal
        emptied = [name for name, value in requested.items()
                   if value is None and name in REQUIRED_FIELDS]
        if emptied:
            raise Unprocessable([problem("cannot be empty", name) for name in emptied])
        if "predecessor_id" in requested:
            _check_predecessor(session, requested["predecessor_id"], proposal.department_id)
        unknown = co_author_problems(session, requested.get("co_authors") or (), settings)
        if unknown:
            raise Unprocessable(unknown)
    except (NotFound, Conflict, Forbidden, Unprocessable) as refusal:
        audit.record_refusal(
            session, refusal, actor=actor, role="submitter", channel=channel, action="edit",
            proposal_id=proposal_id, from_state=state.value, version=proposal.version,
            detail={"fields": sorted(requested)},
        )
        raise

    changed: dict[str, dict[str, Any]] = {}
    for name, after in requested.items():
        if name not in EDITABLE_FIELDS:
            continue
        before = getattr(proposal, name)
        if before != after:
            changed[name] = {"before": before, "after": after}
            setattr(proposal, name, after)
    if not changed:
        session.commit()  # nothing to write; ends the transaction and its lock
        return proposal
    proposal.version += 1
    proposal.updated_at = utcnow()
    session.add(proposal)
    audit.append(
        session, actor=actor, role="submitter", channel=channel, action="edit",
        from_state=state.value, to_state=state.value, proposal_id=proposal.id,
        version=proposal.version, detail={"changes": changed},
    )
    try:
        session.commit()
    except IntegrityError as error:
        session.rollback()
        raise Unprocessable(str(error.orig)) from error
    return proposal
