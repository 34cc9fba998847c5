"""The agenda email: each reviewer with a proposal on a meeting's agenda, and the badge office,
get the agenda and an iCalendar invitation. The scheduler sends it once when the meeting is
MICROCRED_MEETING_LEAD_DAYS away; the coordinator may send it again at any time."""

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from notifications import words
from notifications.compose import enqueue
from notifications.invitation import invitation
from notifications.recipients import Recipient, assigned_reviewers
from notifications.rendering import subject_line
from plumbing.settings import Settings
from workflow import audit
from workflow.access import grants_of
from workflow.accounts.models import Department, User
from workflow.errors import NotFound
from workflow.fields import as_utc
from workflow.meetings.models import AgendaItem, Meeting
from workflow.meetings.schedule import coordinator_refusal
from workflow.proposals.models import Proposal
from workflow.reviews.models import Review


def when(at: datetime, settings: Settings) -> str:
    """The meeting's time in the office's zone, the zone named (the invitation carries UTC
    for calendars to convert)."""
    return words.moment(at, words.zone_for(settings))


def agenda_mail(session: Session, meeting: Meeting, settings: Settings,
                dedupe_key: str | None = None) -> int:
    """Queue the agenda and invitation for this meeting (the caller commits); answer how many
    messages were queued."""
    base = settings.base_url.rstrip("/")
    url = f"{base}/meetings/{meeting.id}"
    items = session.exec(
        select(Proposal, Department.code).join(AgendaItem, col(AgendaItem.proposal_id)
                                               == Proposal.id)
        .join(Department, col(Department.id) == Proposal.department_id)
        .where(AgendaItem.meeting_id == meeting.id, col(AgendaItem.decision).is_(None))
        .order_by(col(AgendaItem.placed_at), col(AgendaItem.id))).all()
    people: dict[str, Recipient] = {}
    listed = []
    for proposal, department in items:
        reviewers = assigned_reviewers(session, proposal)
        scored = set(session.exec(select(Review.reviewer_id).where(
            Review.proposal_id == proposal.id, Review.round == proposal.review_round)).all())
        for user in reviewers:
            people.setdefault(user.email.lower(), Recipient(
                email=user.email.lower(), name=user.name, user_id=user.id, role="meeting"))
        listed.append({"title": proposal.title, "department": department,
                       "link": f"{base}/proposals/{proposal.id}",
                       "reviews": f"{len(scored & {u.id for u in reviewers})} of "
                                  f"{len(reviewers)} reviews in"})
    office = settings.badge_office_email.strip().lower()
    office_user = session.exec(select(User).where(User.email == office)).first()
    people.setdefault(office, Recipient(email=office, name=office_user.name if office_user
                                        else "", user_id=office_user.id if office_user
                                        else None, role="meeting"))
    starts = as_utc(meeting.starts_at)
    description = "Agenda:\n" + "\n".join(
        f"- {item['title']} ({item['department']}): {item['link']}" for item in listed
    ) if listed else "No proposal is on the agenda yet."
    ics = invitation(meeting, [(r.email, r.name) for r in people.values()],
                     f"{description}\n\nThe agenda: {url}", url, settings)
    ends = as_utc(starts + timedelta(minutes=meeting.duration_minutes)).astimezone(
        words.zone_for(settings))
    context = {"meeting": {"title": meeting.title, "when": when(starts, settings),
                           "ends": f"{ends.strftime('%I:%M %p').lstrip('0')} {ends.tzname()}",
                           "location": meeting.location, "url": url,
                           "reviews_due": when(starts, settings)},
               "items": listed}
    return enqueue(
        session, event="agenda", proposal=None, recipients=list(people.values()),
        subject=subject_line(f"{meeting.title}, {starts:%d %B}", "Agenda and invitation"),
        context=context, dedupe_key=dedupe_key, settings=settings,
        attachments=[{"filename": "meeting.ics", "content_type": "text/calendar",
                      "method": "REQUEST", "text": ics}])


def send_agenda(session: Session, meeting_id: int, actor: User, via: str,
                settings: Settings) -> int:
    """The coordinator sends the agenda now, audited; answer how many messages were queued."""
    refusal = coordinator_refusal(grants_of(session, actor))
    meeting = session.get(Meeting, meeting_id)
    if refusal is None and meeting is None:
        refusal = NotFound("no such meeting")
    if refusal is not None:
        session.rollback()
        raise refusal
    assert meeting is not None
    queued = agenda_mail(session, meeting, settings)
    audit.append(session, actor=actor, role="coordinator", channel=via, action="send_agenda",
                 detail={"meeting_id": meeting.id, "messages": queued})
    session.commit()
    return queued


def send_due(session: Session, settings: Settings, now: datetime) -> int:
    """The scheduler's part: each meeting within MICROCRED_MEETING_LEAD_DAYS that has not begun
    gets its agenda sent once (a dedupe key per meeting and invitation sequence)."""
    soon = session.exec(select(Meeting).where(
        col(Meeting.starts_at) > now,
        col(Meeting.starts_at) <= now + timedelta(days=settings.meeting_lead_days))).all()
    return sum(agenda_mail(session, meeting, settings,
                           dedupe_key=f"agenda:{meeting.id}:{meeting.sequence}")
               for meeting in soon)
