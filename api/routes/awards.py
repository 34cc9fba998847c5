"""Awarding credentials to learners, and what verifiers fetch: each award's signed credential,
the status lists that say which are revoked, and the DID document with the keys."""

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from api import errors
from api.deps import CurrentUser, ReadSessionDep, SessionDep, SettingsDep
from api.routes.credentials import CredentialId
from workflow.audit import Channel
from workflow.awards import service, signing, status_list
from workflow.awards.models import AwardPublic, AwardRequest, RevocationRequest
from workflow.credentials.catalog import by_public_id
from workflow.errors import Forbidden
from workflow.fields import utcnow

router = APIRouter(tags=["awards"])
AwardId = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]
# As the Verifiable Credentials data model names them.
VC_JSON = "application/vc+ld+json"
VC_JWT = "application/vc+jwt"


@router.post("/api/credentials/{credential_id}/awards", status_code=status.HTTP_201_CREATED,
             responses=errors.responses(
                 400, 401, 403, 404, 409, 422, e404="Unknown credential",
                 e409="The credential is retired or superseded",
                 e503="Signing is not configured, or the database is busy"))
def award(credential_id: CredentialId, body: AwardRequest, session: SessionDep,
          me: CurrentUser, settings: SettingsDep) -> list[AwardPublic]:
    """Award a published credential to learners: each gets a signed Open Badges 3.0
    credential and an email with its link."""
    made = service.issue(session, credential_id, body.recipients, me,
                         evidence_url=body.evidence_url, via=Channel.API, settings=settings)
    return [service.to_public(session, one, settings) for one in made]


@router.get("/api/credentials/{credential_id}/awards",
            responses=errors.responses(401, 403, 404, 422, e404="Unknown credential"))
def awards_of(credential_id: CredentialId, session: ReadSessionDep, me: CurrentUser,
              settings: SettingsDep) -> list[AwardPublic]:
    """The credential's awards, newest first (its awarders and the badge office)."""
    credential = by_public_id(session, credential_id)
    if not service.may_see_awards(session, me, credential):
        raise Forbidden("only the badge office and the credential's awarders see its awards")
    return [service.to_public(session, one, settings)
            for one in service.of_credential(session, credential)]


@router.post("/api/awards/{award_id}/revoke",
             responses=errors.responses(400, 401, 403, 404, 409, 422, e404="Unknown award",
                                        e409="Already revoked"))
def revoke(award_id: AwardId, body: RevocationRequest, session: SessionDep, me: CurrentUser,
           settings: SettingsDep) -> AwardPublic:
    """Revoke an award, with the reason; verifiers see it in the status list at once."""
    revoked = service.revoke(session, award_id, body.reason, me, via=Channel.API)
    return service.to_public(session, revoked, settings)


@router.get("/api/awards/{award_id}/credential", response_class=Response,
            responses={200: {"content": {VC_JSON: {}}, "description": "The signed credential"},
                       **errors.responses(404, 422, e404="Unknown award")})
def signed_credential(award_id: AwardId, session: ReadSessionDep) -> Response:
    """The award's OpenBadgeCredential, exactly as it was signed; no sign-in needed."""
    award = service.by_public(session, award_id)
    return Response(service.document_bytes(award), media_type=VC_JSON)


@router.get("/api/status-lists/{number}", response_class=Response,
            responses={200: {"content": {VC_JWT: {}}, "description": "The signed list"},
                       **errors.responses(404, 422, e404="Unknown list")})
def revocation_list(number: Annotated[int, Path(ge=1, le=1000)], session: SessionDep,
                    settings: SettingsDep) -> Response:
    """A Bitstring Status List of revoked awards, signed with the current key."""
    keys = signing.signer(session, settings)
    signed = status_list.signed_list(session, settings, keys, number, utcnow())
    session.commit()  # a key seen for the first time is recorded
    return Response(signed, media_type=VC_JWT, headers={"Cache-Control": "max-age=300"})


@router.get("/.well-known/did.json", include_in_schema=False)
@router.get("/did.json", include_in_schema=False)
def did_document(session: SessionDep, settings: SettingsDep) -> Response:
    """The university's DID document: the current key first, then every key it signed with."""
    keys = signing.signer(session, settings)
    session.commit()
    return Response(service.json_bytes(keys.did_document()), media_type="application/did+json")
