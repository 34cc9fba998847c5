"""What a reply asks for: the action word on its first line, and the comment after it.

Only the first line of what the sender wrote decides (quotes and signature already removed),
case- and punctuation-blind. Clear verbs only; a line that negates, makes a condition, asks, or
names two actions is not understood, so nothing is done on a guess.
"""

import re
from dataclasses import dataclass

# The words that work for each action, as people write them. "Looks good", "OK" or "yes" alone
# are not among them: the email offers more than one action, so they do not say which.
WORDS: dict[str, tuple[str, ...]] = {
    "approve": ("approve", "approved", "yes, approve"),
    "return": ("return", "returning", "send back", "sent back"),
    "reject": ("reject", "rejected", "decline"),
}
PHRASES = {
    "approve": r"approve[sd]?|approving",
    "return": r"return(?:s|ed|ing)?|send(?:ing)? (?:it |this )?back|sent (?:it |this )?back",
    "reject": r"reject(?:s|ed|ing)?|declin(?:e[sd]?|ing)",
}
FOUND = {action: re.compile(rf"\b(?:{words})\b") for action, words in PHRASES.items()}
NEGATION = re.compile(r"\b(?:not|no|never|cannot|can't|won't|don't|doesn't|didn't|shouldn't|"
                      r"wouldn't|isn't|aren't|unable|nor|without)\b")
CONDITION = re.compile(r"\b(?:if|once|when|after|until|unless|pending|provided|assuming)\b")
AWAY = re.compile(r"\b(?:out of (?:the )?office|automatic reply|auto-?reply|on leave|"
                  r"on vacation)\b")
# A clause ends at . ! ? ; : or a dash between spaces; commas do not end one ("Hi, approved").
CLAUSE_END = re.compile(r"[.!?;:]+|\s-{1,2}\s|-{2}")


@dataclass(frozen=True)
class Command:
    trigger: str | None
    comment: str | None = None
    read: str = ""  # the line the decision was read from, for the "not understood" answer
    why: str = ""  # why nothing was understood, in plain words


def plain(line: str) -> str:
    line = line.replace("\u2019", "'").replace("\u2018", "'")
    line = line.replace("\u201c", '"').replace("\u201d", '"')
    line = re.sub(r"[\u2010-\u2015\u2212]", "-", line)
    line = re.sub(r"^[\s>*_\"'`#]+", "", line)
    return " ".join(line.split())


def command(text: str, allowed: tuple[str, ...] | list[str] = tuple(WORDS)) -> Command:
    """The action the first line asks for, if it is one of `allowed`, with the comment (the rest
    of that line after the verb, then the following lines)."""
    lines = text.strip().split("\n")
    if not lines or not lines[0].strip():
        return Command(None, why="the reply was empty")
    first, rest = plain(lines[0]), "\n".join(lines[1:]).strip()
    low = first.lower()
    if len(low) != len(first):  # a letter whose lower case is longer: keep offsets aligned
        first = low
    if AWAY.search(low):
        return Command(None, read=first, why="it reads as an automatic reply")
    start = 0
    clauses: list[tuple[int, int, str]] = []
    for stop in CLAUSE_END.finditer(low):
        clauses.append((start, stop.start(), stop.group()))
        start = stop.end()
    clauses.append((start, len(low), ""))
    for begin, end, closing in clauses:
        clause = low[begin:end]
        hits = [(action, m) for action, rx in FOUND.items() for m in rx.finditer(clause)]
        if not hits:
            continue
        actions = {action for action, _ in hits}
        if len(actions) > 1:
            return Command(None, read=first, why="it names more than one action")
        verb_at = min(m.start() for _, m in hits)
        around = clause[:verb_at].rsplit(",", 1)[-1] + clause[verb_at:].split(",", 1)[0]
        if NEGATION.search(around):
            return Command(None, read=first, why="it says not to")
        if CONDITION.search(clause):
            return Command(None, read=first, why="it sets a condition")
        if "?" in closing:
            return Command(None, read=first, why="it asks a question")
        action = actions.pop()
        if action not in allowed:
            return Command(None, read=first,
                           why=f"this email does not let you {action} the proposal")
        after = first[begin + max(m.end() for _, m in hits):].lstrip(" :;,.!-\"'").strip()
        if not re.search(r"\w", after):  # only punctuation or an emoji after the verb
            after = ""
        comment = "\n".join(part for part in (after, rest) if part)
        return Command(action, comment or None, read=first)
    return Command(None, read=first, why="it has none of the words below")


def words_that_work(allowed: tuple[str, ...] | list[str]) -> list[str]:
    """One line per allowed action: the words to start a reply with."""
    lines = []
    for action in WORDS:
        if action in allowed:
            words = ", ".join(f'"{w}"' for w in WORDS[action])
            then = "" if action == "approve" else " followed by your comment"
            lines.append(f"To {action}: start with {words}{then}.")
    return lines
