"""Revising a published credential: a new draft that names it as its predecessor."""

from sqlmodel import Session

from workflow import audit, service
from workflow.accounts.models import User
from workflow.audit import Channel
from workflow.credentials import badges
from workflow.credentials.catalog import by_public_id
from workflow.credentials.models import CredentialStatus
from workflow.errors import Unprocessable, problem
from workflow.machine import State
from workflow.proposals.models import EDITABLE_FIELDS, Proposal, ProposalCreate


def revise(session: Session, public_id: str, actor: User, via: str | Channel) -> Proposal:
    """Start a revision: a draft prefilled from the published snapshot, naming it predecessor."""
    credential = by_public_id(session, public_id)
    proposal = session.get(Proposal, credential.proposal_id)
    if credential.status != CredentialStatus.ACTIVE.value or proposal is None or (
            proposal.state != State.PUBLISHED.value):
        session.rollback()
        raise Unprocessable([problem(f"only an active credential can be revised; this one is "
                                     f"{credential.status}", "credential_id", where="path")])
    fields = {name: value for name, value in credential.snapshot.items()
              if name in EDITABLE_FIELDS}
    fields["department"] = credential.department_code
    fields["predecessor_id"] = credential.proposal_id
    draft = service.create_proposal(session, ProposalCreate.model_validate(fields), actor, via)
    if credential.image and credential.image_type:
        session.add(badges.BadgeDesign(
            proposal_id=draft.id or 0, image=credential.image, content_type=credential.image_type,
            sha256=credential.image_sha256 or "",
            criteria_narrative=credential.snapshot.get("criteria_narrative") or "",
            alt_text=credential.snapshot.get("alt_text") or "",
            tags=list(credential.snapshot.get("tags") or ()), uploaded_by_id=actor.id or 0))
        audit.append(session, actor=actor, role="submitter", channel=str(via),
                     action="badge_design", from_state=draft.state, to_state=draft.state,
                     proposal_id=draft.id, version=draft.version,
                     detail={"sha256": credential.image_sha256, "copied_from": public_id})
        session.commit()
    return draft

