"""How many learners earn each credential: by month for one credential, and by academic term
across all of them, for the department and the badge office."""

import csv
import io
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from workflow.awards.models import Award
from workflow.credentials.models import Credential
from workflow.fields import as_utc


def term_of(moment: datetime) -> str:
    """The academic term a date falls in: Spring (January-May), Summer (June-July), Fall."""
    season = "Spring" if moment.month <= 5 else "Summer" if moment.month <= 7 else "Fall"
    return f"{season} {moment.year}"


def by_month(session: Session, credential: Credential) -> list[tuple[str, int]]:
    """Awards of the credential per month (revoked ones not counted), oldest first."""
    issued = session.exec(select(Award.issued_at).where(
        Award.credential_id == credential.id, col(Award.revoked_at).is_(None))).all()
    counted = Counter(f"{as_utc(moment):%Y-%m}" for moment in issued)
    return sorted(counted.items())


@dataclass(frozen=True)
class Row:
    credential: str
    title: str
    department: str
    term: str
    awarded: int
    revoked: int


def by_term(session: Session) -> list[Row]:
    """Awards per credential and term, newest term first."""
    found = session.execute(
        sa_select(col(Credential.public_id), col(Credential.title),
                  col(Credential.department_code), col(Award.issued_at), col(Award.revoked_at))
        .join(Award, col(Award.credential_id) == col(Credential.id))).all()
    awarded: Counter[tuple[str, str, str, str]] = Counter()
    revoked: Counter[tuple[str, str, str, str]] = Counter()
    for public_id, title, department, issued, revoked_at in found:
        key = (public_id, title, department, term_of(as_utc(issued)))
        awarded[key] += 1
        if revoked_at is not None:
            revoked[key] += 1
    rows = [Row(*key, awarded=count, revoked=revoked[key]) for key, count in awarded.items()]
    return sorted(rows, key=lambda r: (-_term_order(r.term), r.department, r.title))


def _term_order(term: str) -> int:
    season, year = term.split()
    return int(year) * 3 + ("Spring", "Summer", "Fall").index(season)


def as_csv(rows: list[Row]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["credential", "title", "department", "term", "awarded", "revoked"])
    for row in rows:
        writer.writerow([row.credential, row.title, row.department, row.term, row.awarded,
                         row.revoked])
    return out.getvalue()
