"""A reply's trailing signature, cut off before its words become a stored comment.

mail-parser-reply finds the quoted original; no library recognises an unmarked signature
("Bob Baca / Department Lead / 520-555-0143"). This does, from the sender's own name (as our
records have it), phone and address lines, the usual markers ("-- ", "Sent from my iPhone",
"Get Outlook for iOS") and closing words ("Thanks,", "Best regards,").
"""

import re

MARKER = re.compile(
    r"^(?:--|__+|[-\u2013\u2014]{2,}|sent from my \S.*|sent from (?:outlook|mail|yahoo mail|gmail)"
    r"\b.*|get outlook for \S.*|sent via \S.*|sent with \S.*|\[cid:\S+\])$", re.I)
CLOSING = re.compile(
    r"^(?:thanks|thank you|many thanks|thx|cheers|best|best wishes|best regards|kind regards|"
    r"warm regards|regards|warmly|sincerely|all the best|respectfully|take care|with thanks)"
    r"(?:\s+again)?\s*[,.!\-\u2013\u2014]*$", re.I)
PHONE = re.compile(r"(?:\+?\d{1,3}[\s.\-]?)?\(?\d{3}\)?[\s.\-\u2011]?\d{3}[\s.\-\u2011]?\d{4}")
CONTACT = re.compile(r"\S+@\S+\.\w+|https?://\S+|www\.\S+", re.I)
SHORT_WORDS = 9
MOST_LINES = 8


def names_of(name: str | None, email: str | None) -> set[str]:
    """How a person signs: "Bob Baca", "Bob", "Baca, Bob", "B. Baca", "BB"."""
    parts: list[str] = []
    if name:
        name = name.strip().strip('"')
        if "," in name:
            last, _, first = name.partition(",")
            name = f"{first.strip()} {last.strip()}"
        parts = name.split()
    elif email:
        parts = [p for p in re.split(r"[._\-]+", email.split("@")[0]) if p.isalpha()]
    if not parts:
        return set()
    first, last = parts[0], parts[-1]
    forms = {" ".join(parts), first, f"{first} {last}", f"{last}, {first}",
             f"{first[0]}. {last}", f"{first[0]}{last[0]}", f"{first[0]}.{last[0]}."}
    return {form.lower() for form in forms}


def _is_name(line: str, names: set[str]) -> bool:
    text = re.sub(r"^[\-\u2013\u2014~*\s]+", "", line).strip().rstrip(".!").lower()
    if not text or not names:
        return False
    return text in names or any(
        text.startswith(name + sep) for name in names if " " in name
        for sep in (",", " |", " -", " (", " \u2013"))


def _signature_like(line: str) -> bool:
    text = line.strip()
    if not text or PHONE.search(text) or CONTACT.search(text):
        return True
    return len(text.split()) <= SHORT_WORDS and len(text) <= 80 and not text.endswith(("?", ":"))


def strip_signature(text: str, name: str | None = None, email: str | None = None) -> str:
    lines = [line.rstrip() for line in text.split("\n")]
    first = next((i for i, line in enumerate(lines) if line.strip()), 0)
    # A marker line ends the message (never the first line: "-- approve" is a reply).
    for i in range(first + 1, len(lines)):
        if MARKER.match(lines[i].strip()):
            lines = lines[:i]
            break
    # The sender's name on a line of its own, followed only by short lines: title, phone.
    names = names_of(name, email)
    for i in range(first + 1, len(lines)):
        tail = lines[i:]
        if (_is_name(lines[i], names) and len([x for x in tail if x.strip()]) <= MOST_LINES
                and all(_signature_like(x) for x in tail)):
            lines = lines[:i]
            break
    else:
        # No name: a last paragraph of a few short lines that ends in a phone or an address.
        while lines and not lines[-1].strip():
            lines.pop()
        if lines and (PHONE.search(lines[-1]) or re.fullmatch(r"\S+@\S+\.\w+",
                                                              lines[-1].strip())):
            j = len(lines) - 1
            while j > first and lines[j - 1].strip() and _signature_like(lines[j - 1]):
                j -= 1
            if (j > first + 1 and not lines[j - 1].strip()
                    and 2 <= len(lines) - j <= MOST_LINES):
                lines = lines[:j]
    while len(lines) > first + 1 and (not lines[-1].strip() or CLOSING.match(lines[-1].strip())):
        lines.pop()
    return "\n".join(lines).strip()
