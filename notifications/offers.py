"""The page an email leads to, when its main task is done on a page rather than by a token.

Each kind of email has one obvious action. Where the recipient's real task is on a page
(assigning reviewers, scoring, checking a badge design, editing a returned proposal) that page
leads, as the filled button; the email's token actions (approve, return, reject) follow,
outlined. Where there is no page task, the first token action leads.
"""

from typing import Any

# (event, recipient role) -> (button label, key in the email's links)
PAGE_TASKS: dict[tuple[str, str], tuple[str, str]] = {
    ("department_approved", "badge_office"): ("Assign reviewers", "reviewers"),
    ("department_approved", "reviewer"): ("Start the review", "review"),
    ("reviewer_assigned", "reviewer"): ("Start the review", "review"),
    ("reminder", "reviewer"): ("Start the review", "review"),
    ("published", "owner"): ("See it in the catalog", "credential"),
    ("published", "co_author"): ("See it in the catalog", "credential"),
}


def page_task(event: str, role: str, links: dict[str, str], facts: dict[str, Any] | None
              ) -> dict[str, str] | None:
    """The page button this recipient's email leads with, if any."""
    if event == "returned" and role in ("owner", "co_author") and facts:
        # What must change: the badge design after a design return, else the proposal.
        if facts.get("returned_from") == "design_review":
            return {"label": "Change the badge design", "url": links["design"]}
        return {"label": "Edit the proposal", "url": links["edit"]}
    if role == "badge_office" and (facts or {}).get("state") == "design_review":
        # In badge design review the office's task is always the design page.
        return {"label": "Review the badge design", "url": links["design"]}
    found = PAGE_TASKS.get((event, role))
    if found and found[1] == "review" and (facts or {}).get("state") != "rubric_review":
        return None  # reviewers score in rubric review; before it, the proposal leads
    if found is None or found[1] not in links:
        return None
    return {"label": found[0], "url": links[found[1]]}


def buttons(event: str, role: str, links: dict[str, str], facts: dict[str, Any] | None,
            offered: list[dict[str, str]], given: list[dict[str, str]] | None = None
            ) -> list[dict[str, str]]:
    """Every button of one email, the leading one first (marked `primary`): the page task, the
    token actions, the buttons the caller gave; else, about a proposal, "Open the proposal"."""
    task = page_task(event, role, links, facts)
    found = ([task] if task else []) + [dict(b) for b in offered] + list(given or [])
    if not found and "proposal" in links:
        found = [{"label": "Open the proposal", "url": links["proposal"]}]
    return [{**b, "primary": "yes" if i == 0 else ""} for i, b in enumerate(found)]
