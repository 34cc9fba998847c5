"""Turn a notice's audiences into addresses, for one proposal in one state."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, select

from notifications.matrix import Audience
from plumbing.settings import Settings
from workflow.accounts.models import Role, RoleGrant, User
from workflow.machine import State
from workflow.proposals.models import Proposal
from workflow.reviews.models import Review, ReviewerAssignment


@dataclass(frozen=True)
class Recipient:
    email: str
    name: str = ""
    user_id: int | None = None
    # The audience that reached this person, so a template can address them in their role.
    role: str = ""
    # What the routing rules ask of this person, shown in their message.
    note: str = ""


@dataclass(frozen=True)
class Envelope:
    """One message about to be rendered: which event, about what, to whom."""

    event: str
    proposal: Proposal | None
    recipient: Recipient
    action_needed: bool
    # False when the proposal has moved past the version the event was about: no actions then.
    current: bool = True


def department_leads(session: Session, department_id: int) -> list[User]:
    return list(session.exec(
        select(User).join(RoleGrant, col(RoleGrant.user_id) == User.id)
        .where(RoleGrant.role == Role.DEPARTMENT_LEAD.value,
               RoleGrant.department_id == department_id, col(User.is_active))
        .order_by(col(User.email))
    ).all())


def assigned_reviewers(session: Session, proposal: Proposal, *, pending_only: bool = False
                       ) -> list[User]:
    query = (select(User).join(ReviewerAssignment, col(ReviewerAssignment.reviewer_id) == User.id)
             .where(ReviewerAssignment.proposal_id == proposal.id, col(User.is_active)))
    if pending_only:
        scored = select(Review.reviewer_id).where(Review.proposal_id == proposal.id,
                                                  Review.round == proposal.review_round)
        query = query.where(col(User.id).not_in(scored))
    return list(session.exec(query.order_by(col(User.email))).all())


def authors(proposal: Proposal, owner: User) -> set[str]:
    return {owner.email.lower(), *(a.lower() for a in proposal.co_authors)}


class Resolver:
    """Look people up once per proposal, however many notices an event has."""

    def __init__(self, session: Session, proposal: Proposal, settings: Settings,
                 named: Sequence[User] = (), owner: User | None = None,
                 learner: Recipient | None = None) -> None:
        self.session = session
        self.proposal = proposal
        self.settings = settings
        self.named = list(named)
        self.learner = learner
        owner = owner or session.get(User, proposal.owner_id)
        assert owner is not None
        self.owner = owner
        self._users_by_email: dict[str, User] = {}

    def users(self, audience: Audience, state: State) -> list[Recipient]:
        role = audience.value
        p = self.proposal
        if audience is Audience.OWNER:
            return [self._of(self.owner, role)]
        if audience is Audience.CO_AUTHORS:
            return [self._by_email(email, role) for email in p.co_authors]
        if audience is Audience.DEPARTMENT_LEADS:
            return [self._of(u, role) for u in department_leads(self.session, p.department_id)]
        if audience is Audience.BADGE_OFFICE:
            return [self._by_email(self.settings.badge_office_email, role)]
        if audience is Audience.ASSIGNED_REVIEWERS:
            return [self._of(u, role) for u in assigned_reviewers(self.session, p)]
        if audience is Audience.PENDING_REVIEWERS:
            if state is not State.RUBRIC_REVIEW:
                return []
            return [self._of(u, Audience.ASSIGNED_REVIEWERS.value)
                    for u in assigned_reviewers(self.session, p, pending_only=True)]
        if audience is Audience.NAMED:
            return [self._of(u, Audience.ASSIGNED_REVIEWERS.value) for u in self.named]
        if audience is Audience.MENTIONED:
            return [self._of(u, role) for u in self.named]
        if audience is Audience.LEARNER:
            return [self.learner] if self.learner else []
        return self.approvers(state)

    def approvers(self, state: State) -> list[Recipient]:
        """Who approves at this stage; separation of duties leaves the authors out."""
        if state is State.DEPARTMENT_REVIEW:
            leads = department_leads(self.session, self.proposal.department_id)
            own = authors(self.proposal, self.owner)
            return [self._of(u, Audience.DEPARTMENT_LEADS.value) for u in leads
                    if u.email.lower() not in own]
        if state in (State.RUBRIC_REVIEW, State.DESIGN_REVIEW):
            return [self._by_email(self.settings.badge_office_email,
                                   Audience.BADGE_OFFICE.value)]
        return []

    def _of(self, user: User, role: str) -> Recipient:
        return Recipient(email=user.email.lower(), name=user.name, user_id=user.id, role=role)

    def _by_email(self, email: str, role: str) -> Recipient:
        email = email.strip().lower()
        if email not in self._users_by_email:
            user = self.session.exec(select(User).where(User.email == email)).first()
            if user is None:
                return Recipient(email=email, role=role)
            self._users_by_email[email] = user
        return self._of(self._users_by_email[email], role)


def unique(recipients: Iterable[Recipient], seen: set[str]) -> list[Recipient]:
    """Each address once per event: the first notice that reaches someone is the one they get."""
    chosen = []
    for recipient in recipients:
        if recipient.email not in seen:
            seen.add(recipient.email)
            chosen.append(recipient)
    return chosen
