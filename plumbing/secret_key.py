"""The key that signs sessions and CSRF tokens: never a built-in value.

The commands that start services refuse a missing or weak key; `serve --demo` on the embedded
SQLite default makes one once and keeps it beside the database file, readable by its owner
only, so the first command of the README needs nothing set.
"""

import collections
import math
import os
import secrets
from pathlib import Path

from sqlalchemy.engine import make_url

from plumbing.settings import Settings

MIN_BYTES = 32
# A rough estimate of the key's randomness (Shannon entropy of its characters, times its
# length). `secrets.token_urlsafe(32)` scores above 180; a repeated or wordy phrase of the
# same length scores far less.
MIN_BITS = 160
HOW = 'make one with: python3 -c "import secrets; print(secrets.token_urlsafe(32))"'


class WeakSecretKey(Exception):
    """MICROCRED_SECRET_KEY is missing or guessable; the message says what to do, on one line."""


def estimated_bits(key: str) -> float:
    counts = collections.Counter(key)
    return -sum(n * math.log2(n / len(key)) for n in counts.values())


def key_problem(key: str | None) -> str | None:
    """Why this value cannot sign sessions, or None when it can."""
    if not key:
        return "MICROCRED_SECRET_KEY is not set"
    size = len(key.encode())
    if size < MIN_BYTES:
        return (f"MICROCRED_SECRET_KEY is too short ({size} bytes; "
                f"at least {MIN_BYTES} random bytes)")
    if estimated_bits(key) < MIN_BITS:
        return "MICROCRED_SECRET_KEY looks guessable (a phrase or a pattern, not random bytes)"
    return None


def require_secret_key(settings: Settings) -> None:
    """Refuse to go on with a key anyone could guess or forge sessions with."""
    value = settings.secret_key.get_secret_value() if settings.secret_key else None
    problem = key_problem(value)
    if problem:
        raise WeakSecretKey(f"{problem}; {HOW}")


def key_file(database_url: str) -> Path | None:
    """Where the demo keeps its key: beside an SQLite database file (None for anything else)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database + ".secret-key")


def demo_key(database_url: str) -> str:
    """The demo's own key: read from beside the database, or made there once (mode 0600)."""
    path = key_file(database_url)
    if path is None:
        raise WeakSecretKey(f"MICROCRED_SECRET_KEY is not set, and `serve --demo` keeps a key of "
                            f"its own only beside an SQLite database file; {HOW}")
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_urlsafe(MIN_BYTES)
    # O_EXCL: two demos starting at once keep the first key, never half of one.
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(descriptor, "w") as out:
        out.write(key + "\n")
    return key
