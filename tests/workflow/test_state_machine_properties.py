"""Random triggers by random people: the invariants hold after every step.

After each step: the audit chain verifies, every state change has exactly one
accepted audit entry and exactly the outbox event its emails come from, a
refusal changes nothing but adds one refused entry (and no email), an unknown
trigger writes nothing, and `version` never goes down.
"""

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import Engine
from sqlmodel import Session, func, select

from api.demo import sample_proposal
from plumbing.database import build_engine
from plumbing.settings import Settings
from tests.conftest import _empty_postgres
from workflow import audit, service
from workflow.accounts.models import DepartmentCreate, Role
from workflow.accounts.service import add_department, add_user
from workflow.audit import AuditEntry, Channel
from workflow.errors import UnknownTrigger, WorkflowError
from workflow.events import OutboxEvent, for_transition
from workflow.machine import State
from workflow.proposals.models import Proposal
from workflow.reviews import assignment, reviewing, rubrics
from workflow.reviews.models import ReviewSubmission
from workflow.reviews.rubrics import install_rubrics

TRIGGERS = ["submit", "approve", "return", "resubmit", "reject", "withdraw", "retire", "bogus"]
# Weighted towards moving forward, so runs reach the later stages.
FORWARD = ["submit", "approve", "approve", "approve", "return", "resubmit", "resubmit", "reject",
           "withdraw", "retire"]
PEOPLE = ["owner", "co_author", "lead", "other_lead", "coordinator", "reviewer", "outsider"]


class Lifecycles(RuleBasedStateMachine):
    new_engine: Callable[[], Engine]

    proposals = Bundle("proposals")

    def __init__(self) -> None:
        super().__init__()
        self.engine = type(self).new_engine()
        self.session = Session(self.engine, expire_on_commit=False)
        self.settings = Settings(_env_file=None)  # type: ignore[call-arg]
        install_rubrics(self.session, self.settings)
        add_department(self.session, DepartmentCreate(code="CS", name="Computer Science"))
        add_department(self.session, DepartmentCreate(code="MATH", name="Mathematics"))
        roles = {
            "owner": ([Role.SUBMITTER], "CS"), "co_author": ([Role.SUBMITTER], "CS"),
            "lead": ([Role.DEPARTMENT_LEAD], "CS"), "other_lead": ([Role.DEPARTMENT_LEAD], "MATH"),
            "coordinator": ([Role.COORDINATOR], None), "reviewer": ([Role.REVIEWER], None),
            "outsider": ([Role.SUBMITTER], "MATH"),
        }
        self.people = {name: add_user(self.session, f"{name}@arizona.edu", name, r, d)
                       for name, (r, d) in roles.items()}
        self.state: dict[int, str] = {}
        self.version: dict[int, int] = {}
        self.changes: dict[int, int] = {}
        # Per proposal, the email events its accepted transitions are, in order.
        self.emails: dict[int, list[str]] = {}
        self.entries = self.audit_count()

    def teardown(self) -> None:
        self.session.close()
        self.engine.dispose()

    def audit_count(self) -> int:
        self.session.rollback()
        return self.session.exec(select(func.count()).select_from(AuditEntry)).one()

    @precondition(lambda self: len(self.state) < 3)
    @rule(target=proposals, graduate=st.booleans())
    def create(self, graduate: bool) -> int:
        data = sample_proposal("Applied Data Storytelling", "CS",
                               co_authors=["co_author@arizona.edu"],
                               level="graduate" if graduate else "undergraduate")
        p = service.create_proposal(self.session, data, self.people["owner"], Channel.API)
        pid = p.id or 0
        self.state[pid], self.version[pid], self.changes[pid] = "draft", 1, 0
        self.emails[pid] = []
        self.entries += 1
        return pid

    @rule(pid=proposals, trigger=st.sampled_from(TRIGGERS), who=st.sampled_from(PEOPLE),
          comment=st.sampled_from([None, "", "  ", "Please tighten the outcomes."]))
    def fire(self, pid: int, trigger: str, who: str, comment: str | None) -> None:
        try:
            p = service.apply(self.session, pid, trigger, self.people[who], Channel.API,
                              settings=self.settings, comment=comment)
        except UnknownTrigger:
            assert trigger == "bogus"
            return
        except WorkflowError:
            self.entries += 1
            assert self.current(pid) == (self.state[pid], self.version[pid])
            return
        self.entries += 1
        assert p.state != self.state[pid]
        assert p.version == self.version[pid] + 1
        event = for_transition(trigger, State(self.state[pid]), State(p.state))
        if event is not None:
            self.emails[pid].append(event.value)
        self.state[pid], self.version[pid] = p.state, p.version
        self.changes[pid] += 1

    @rule(pid=proposals, trigger=st.sampled_from(FORWARD),
          comment=st.sampled_from([None, "Please tighten the outcomes."]), scored=st.booleans())
    def fire_as_the_usual_person(self, pid: int, trigger: str, comment: str | None,
                                 scored: bool) -> None:
        """Fire as whoever usually fires this trigger here, so lifecycles get far."""
        if scored and trigger == "approve":
            self.score_well(pid)
        approver = "lead" if self.state[pid] == "department_review" else "coordinator"
        who = "owner" if trigger in ("submit", "resubmit", "withdraw") else approver
        self.fire(pid, trigger, who, comment)

    @rule(pid=proposals)
    def walk_to_design_review(self, pid: int) -> None:
        """Take a draft the usual way to design review, so later steps start deep."""
        for trigger in ("submit", "approve", "approve"):
            self.fire_as_the_usual_person(pid, trigger, None, scored=True)

    @rule(pid=proposals)
    def score_well(self, pid: int) -> None:
        """Give a proposal in rubric review two passing reviews, so approval can go on."""
        if self.state[pid] != "rubric_review":
            return
        coordinator, reviewer = self.people["coordinator"], self.people["reviewer"]
        assignment.assign_reviewers(self.session, pid, [reviewer.email], coordinator, "api",
                                    self.settings)
        rubric = rubrics.rubric_version(self.session, "microcredential")
        best = ReviewSubmission(scores={c.key: "exemplary" for c in rubric.criteria})
        for person in (coordinator, reviewer):
            reviewing.save_review(self.session, pid, best, person, "api", self.settings)
        self.entries += 3

    def current(self, pid: int) -> tuple[str, int]:
        self.session.rollback()
        p = self.session.get(Proposal, pid)
        assert p is not None
        self.session.refresh(p)
        return p.state, p.version

    @invariant()
    def audit_chain_verifies_and_counts_every_attempt(self) -> None:
        assert self.audit_count() == self.entries
        assert audit.verify(self.session).ok
        self.session.rollback()

    @invariant()
    def every_state_change_has_exactly_one_entry(self) -> None:
        self.session.rollback()
        for pid, changes in self.changes.items():
            moved = self.session.exec(
                select(func.count()).select_from(AuditEntry).where(
                    AuditEntry.proposal_id == pid, AuditEntry.outcome == "accepted",
                    AuditEntry.from_state != AuditEntry.to_state)
            ).one()
            assert moved == changes
            assert self.current(pid) == (self.state[pid], self.version[pid])

    @invariant()
    def every_state_change_has_its_emails_and_a_refusal_none(self) -> None:
        self.session.rollback()
        for pid, expected in self.emails.items():
            recorded = self.session.exec(
                select(OutboxEvent.event).where(OutboxEvent.proposal_id == pid,
                                                OutboxEvent.event != "reviewer_assigned")
                .order_by(OutboxEvent.id)  # type: ignore[arg-type]
            ).all()
            assert list(recorded) == expected


def sqlite_engines(template: Path) -> Callable[[], Engine]:
    folder = Path(tempfile.mkdtemp(prefix="microcred-props-"))
    counter = iter(range(10**9))

    def new_engine() -> Engine:
        path = folder / f"example-{next(counter)}.db"
        shutil.copy(template, path)
        return build_engine(f"sqlite:///{path}", pool_size=2)

    return new_engine


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_random_lifecycles_keep_the_invariants(
    backend: str, request: pytest.FixtureRequest
) -> None:
    if backend == "sqlite":
        new_engine = sqlite_engines(request.getfixturevalue("sqlite_template"))
    else:
        shared: Engine = request.getfixturevalue("postgres_engine")

        def new_engine() -> Engine:
            _empty_postgres(shared)
            return shared

    machine = type("Lifecycles", (Lifecycles,), {"new_engine": staticmethod(new_engine)})
    if backend == "postgresql":
        machine.teardown = lambda self: self.session.close()  # type: ignore[method-assign]
    run_state_machine_as_test(
        machine,
        settings=settings(max_examples=25, stateful_step_count=30, derandomize=True, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow]),
    )
