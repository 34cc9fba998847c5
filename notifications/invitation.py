"""A meeting as an iCalendar (RFC 5545) invitation, made with the `icalendar` library."""

from datetime import timedelta

from icalendar import Calendar, vCalAddress, vText
from icalendar import Event as CalendarEvent

from notifications.rendering import mail_domain
from plumbing.settings import Settings
from workflow.fields import as_utc, utcnow
from workflow.meetings.models import Meeting


def meeting_uid(meeting: Meeting, settings: Settings) -> str:
    """Stable for the meeting, so a calendar updates the event it has instead of adding one."""
    created = int(as_utc(meeting.created_at).timestamp())
    return f"meeting-{meeting.id}.{created}@{mail_domain(settings.mail_from)}"


def invitation(meeting: Meeting, attendees: list[tuple[str, str]], description: str,
               url: str, settings: Settings) -> str:
    """The invitation (METHOD:REQUEST) from the badge office to the given (email, name)s."""
    calendar = Calendar()
    calendar.add("prodid", "-//microcred//review meetings//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "REQUEST")
    event = CalendarEvent()
    starts = as_utc(meeting.starts_at)
    event.add("uid", meeting_uid(meeting, settings))
    event.add("sequence", meeting.sequence)
    event.add("dtstamp", utcnow())
    event.add("dtstart", starts)
    event.add("dtend", starts + timedelta(minutes=meeting.duration_minutes))
    event.add("summary", meeting.title)
    if meeting.location:
        event.add("location", meeting.location)
    event.add("description", description)
    event.add("url", url)
    organizer = vCalAddress(f"mailto:{settings.badge_office_email}")
    organizer.params["cn"] = vText("Badge office")
    event.add("organizer", organizer)
    for email, name in attendees:
        attendee = vCalAddress(f"mailto:{email}")
        if name:
            attendee.params["cn"] = vText(name)
        attendee.params["role"] = vText("REQ-PARTICIPANT")
        attendee.params["partstat"] = vText("NEEDS-ACTION")
        attendee.params["rsvp"] = vText("TRUE")
        event.add("attendee", attendee, encode=False)
    calendar.add_component(event)
    return calendar.to_ical().decode()
