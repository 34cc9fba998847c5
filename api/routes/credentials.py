"""The public catalog of published credentials, their Open Badges documents and pathways."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status
from fastapi.responses import JSONResponse

from api import errors
from api.deps import CurrentUser, ReadSessionDep, SessionDep
from api.routes.badges import image_response
from plumbing.settings import Settings
from workflow import queries
from workflow.audit import Channel
from workflow.credentials import catalog as listing
from workflow.credentials import models, publishing, revisions
from workflow.credentials.models import CredentialPage, CredentialPublic, Pathway
from workflow.credentials.openbadges import badgeclass
from workflow.errors import NotFound
from workflow.proposals.models import Competency, Level, Modality, ProposalPublic

CredentialId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
router = APIRouter(prefix="/api/credentials", tags=["credentials"])
ERRORS = errors.responses(404, 422, e404="Unknown credential")
JSONLD = "application/ld+json"


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


@router.get("", responses=errors.responses(422))
def catalog(
    request: Request,
    session: ReadSessionDep,
    department: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_-]{1,32}$")] = None,
    competency: Competency | None = None,
    level: Level | None = None,
    modality: Modality | None = None,
    credit_bearing: bool | None = None,
    active: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
) -> CredentialPage:
    """Published credentials, newest first; no sign-in needed."""
    return listing.catalog(
        session, settings_of(request), department=department,
        competency=competency.value if competency else None,
        level=level.value if level else None, modality=modality.value if modality else None,
        credit_bearing=credit_bearing, active=active, limit=limit, cursor=cursor)


@router.get("/{credential_id}", responses=ERRORS)
def one(credential_id: CredentialId, request: Request, session: ReadSessionDep
        ) -> CredentialPublic:
    return listing.one(session, credential_id, settings_of(request))


@router.get("/{credential_id}/achievement", responses=ERRORS)
def achievement(credential_id: CredentialId, session: ReadSessionDep) -> JSONResponse:
    """The Open Badges 3.0 Achievement, exactly as it was published."""
    credential = listing.by_public_id(session, credential_id)
    return JSONResponse(credential.achievement, media_type=JSONLD)


@router.get("/{credential_id}/badgeclass", responses=ERRORS)
def open_badges_2(credential_id: CredentialId, request: Request, session: ReadSessionDep
                  ) -> JSONResponse:
    """The Open Badges 2.0 BadgeClass, as Canvas Credentials imports it."""
    credential = listing.by_public_id(session, credential_id)
    predecessor = (session.get(models.Credential, credential.predecessor_id)
                   if credential.predecessor_id else None)
    details = publishing.publication(credential, predecessor, settings_of(request))
    return JSONResponse(badgeclass(details), media_type=JSONLD)


@router.get("/{credential_id}/image", responses=ERRORS, response_class=Response)
def image(credential_id: CredentialId, session: ReadSessionDep) -> Response:
    credential = listing.by_public_id(session, credential_id)
    if not credential.image or not credential.image_type:
        raise NotFound("this credential has no image")
    return image_response(credential.image, credential.image_type, public=True)


@router.get("/{credential_id}/pathway", responses=ERRORS)
def pathway(credential_id: CredentialId, session: ReadSessionDep) -> Pathway:
    return listing.pathway(session, credential_id)


@router.post("/{credential_id}/revise", status_code=status.HTTP_201_CREATED,
             responses=errors.responses(
                 401, 403, 404, 422, e404="Unknown credential",
                 e403="Not a member of the credential's department",
                 e422="The credential is retired or superseded"))
def revise(credential_id: CredentialId, session: SessionDep, me: CurrentUser
           ) -> ProposalPublic:
    """Start a revision: a draft prefilled from the published credential, naming it."""
    draft = revisions.revise(session, credential_id, me.user, Channel.API)
    return queries.to_public(draft)
