"""Demo data for `microcred serve --demo`: departments, people, proposals in several states
and one credential published through the whole process, so the catalog is not empty."""

from sqlmodel import Session, select

from plumbing.settings import Settings
from workflow import service
from workflow.accounts.models import DepartmentCreate, Role, User
from workflow.accounts.service import add_department, add_user, issue_token
from workflow.audit import Channel
from workflow.credentials import badges
from workflow.proposals.models import Proposal, ProposalCreate
from workflow.reviews import assignment, reviewing, rubrics
from workflow.reviews.models import ReviewSubmission

# A plain SVG badge (a navy hexagon with a red check), drawn here so the demo needs no files.
BADGE_SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100" width="400" height="400">'
    b'<polygon points="50,3 91,26 91,74 50,97 9,74 9,26" fill="#0c234b"/>'
    b'<path d="M30 52 l13 13 l27 -29" fill="none" stroke="#ab0520" stroke-width="9"/></svg>'
)

DEPARTMENTS = [("CS", "Computer Science"), ("NURS", "Nursing")]

PEOPLE: list[tuple[str, str, list[Role], str | None]] = [
    ("alice@arizona.edu", "Alice Ahn", [Role.SUBMITTER], "CS"),
    ("bob@arizona.edu", "Bob Baca", [Role.DEPARTMENT_LEAD], "CS"),
    ("nina@arizona.edu", "Nina Ortiz", [Role.SUBMITTER], "NURS"),
    ("nora@arizona.edu", "Nora Begay", [Role.DEPARTMENT_LEAD], "NURS"),
    ("badge@arizona.edu", "Carol Chen", [Role.COORDINATOR], None),
    ("rita@arizona.edu", "Rita Reyes", [Role.REVIEWER], None),
    ("ravi@arizona.edu", "Ravi Rao", [Role.REVIEWER], None),
    ("adam@arizona.edu", "Adam Admin", [Role.ADMIN], None),
]


def sample_proposal(title: str, department: str, **overrides: object) -> ProposalCreate:
    """A complete proposal that passes the pre-screen."""
    fields: dict[str, object] = {
        "title": title,
        "department": department,
        "summary": f"{title}: a short, focused program that ends in an Open Badge.",
        "level": "undergraduate",
        "credit_bearing": True,
        "credits": 9,
        "modality": "hybrid",
        "target_audience": "Undergraduates and working professionals",
        "learning_outcomes": [
            "Analyze a data set and communicate the findings to a lay audience",
            "Design a reproducible analysis pipeline",
            "Evaluate the ethical implications of a data-driven decision",
        ],
        "competencies": ["critical_thinking", "communication"],
        "requirements": "Three courses of three credits each, completed with a B or better.",
        "assessment": "A capstone project scored by two faculty against a published rubric.",
        "evidence": "The capstone report and a recorded presentation.",
        "workforce_need": "Regional employers report unfilled analyst roles every quarter.",
        "partners": ["Tucson Data Alliance"],
    }
    fields.update(overrides)
    return ProposalCreate.model_validate(fields)


def seed(session: Session, settings: Settings) -> str:
    """Seed once (idempotent), issue fresh tokens, and say how to sign in."""
    if session.exec(select(User).where(User.email == PEOPLE[0][0])).first() is None:
        _seed_fresh(session, settings)
    lines = ["Demo users (use a token as `Authorization: Bearer <token>`):"]
    for email, _name, roles, department in PEOPLE:
        user = session.exec(select(User).where(User.email == email)).one()
        token = issue_token(session, user, label="demo")
        lines.append(f"  {', '.join(roles):16} {department or '':5} {email:22} {token}")
    lines.append(f"Try: curl -H 'Authorization: Bearer <token>' {settings.base_url}/api/proposals")
    return "\n".join(lines)


def _seed_fresh(session: Session, settings: Settings) -> None:
    for code, name in DEPARTMENTS:
        add_department(session, DepartmentCreate(code=code, name=name))
    people = {}
    for email, name, roles, department in PEOPLE:
        people[email] = add_user(session, email, name, roles, department)
    alice, bob = people["alice@arizona.edu"], people["bob@arizona.edu"]
    nina, nora = people["nina@arizona.edu"], people["nora@arizona.edu"]
    api = Channel.SYSTEM

    service.create_proposal(session, sample_proposal("Applied Data Storytelling", "CS"), alice, api)
    waiting = service.create_proposal(
        session, sample_proposal("Cloud Infrastructure Foundations", "CS"), alice, api)
    service.apply(session, waiting.id or 0, "submit", alice, api, settings=settings)
    in_rubric = service.create_proposal(
        session, sample_proposal("Clinical Informatics Essentials", "NURS", level="professional"),
        nina, api)
    service.apply(session, in_rubric.id or 0, "submit", nina, api, settings=settings)
    service.apply(session, in_rubric.id or 0, "approve", nora, api, settings=settings)
    returned = service.create_proposal(
        session, sample_proposal("Secure Software Practices", "CS"), alice, api)
    service.apply(session, returned.id or 0, "submit", alice, api, settings=settings)
    service.apply(session, returned.id or 0, "return", bob, api, settings=settings,
                  comment="Please name the employer partners who asked for this.")
    withdrawn = service.create_proposal(
        session, sample_proposal("Telehealth Communication", "NURS"), nina, api)
    service.apply(session, withdrawn.id or 0, "submit", nina, api, settings=settings)
    service.apply(session, withdrawn.id or 0, "withdraw", nina, api, settings=settings)
    _publish(session, people, "Data Analytics Foundations", settings)


def _publish(session: Session, people: dict[str, User], title: str, settings: Settings
             ) -> None:
    """Take one proposal through every stage by the same doors the pages and the API use."""
    alice, bob = people["alice@arizona.edu"], people["bob@arizona.edu"]
    carol = people["badge@arizona.edu"]
    api = Channel.SYSTEM
    proposal_id = service.create_proposal(
        session, sample_proposal(title, "CS", credits=6), alice, api).id or 0
    service.apply(session, proposal_id, "submit", alice, api, settings=settings)
    service.apply(session, proposal_id, "approve", bob, api, settings=settings)
    reviewers = ["rita@arizona.edu", "ravi@arizona.edu"]
    assignment.assign_reviewers(session, proposal_id, reviewers, carol, api, settings)
    proposal = session.get(Proposal, proposal_id)
    assert proposal is not None and proposal.rubric_key is not None
    rubric = rubrics.rubric_version(session, proposal.rubric_key, proposal.rubric_version)
    top = max(rubric.levels, key=lambda level: level.points).key
    scores = ReviewSubmission(scores={criterion.key: top for criterion in rubric.criteria})
    for email in reviewers:
        reviewing.save_review(session, proposal_id, scores, people[email], api, settings)
    service.apply(session, proposal_id, "approve", carol, api, settings=settings)
    badges.save_design(session, proposal_id, badges.DesignUpload(
        image=BADGE_SVG, filename="badge.svg", declared_type="image/svg+xml",
        alt_text="A navy hexagon with a red check mark",
        criteria_narrative="Complete the **two courses** with a B or better and present "
                           "the capstone analysis to a panel of faculty and employers.",
        tags=("data", "analytics")), alice, api)
    service.apply(session, proposal_id, "approve", carol, api, settings=settings)
