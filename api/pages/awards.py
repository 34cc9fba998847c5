"""An award's public page: what a learner shares and an employer checks, with no sign-in."""

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response

from api.deps import ReadSessionDep, SettingsDep
from api.web import MaybeWebUser, render
from workflow.awards import service
from workflow.awards.baking import bake
from workflow.credentials.models import Credential
from workflow.errors import NotFound

router = APIRouter(include_in_schema=False)
AwardId = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]


@router.get("/awards/{award_id}", response_class=HTMLResponse)
def award_page(award_id: AwardId, request: Request, session: ReadSessionDep,
               settings: SettingsDep, _me: MaybeWebUser) -> HTMLResponse:
    award = service.by_public(session, award_id)
    shown = service.to_public(session, award, settings)
    credential = session.get(Credential, award.credential_id)
    assert credential is not None
    checked = service.check(session, award)
    linkedin = "https://www.linkedin.com/profile/add?" + urlencode({
        "startTask": "CERTIFICATION_NAME", "name": credential.title,
        "organizationName": settings.issuer_name, "issueYear": shown.issued_at.year,
        "issueMonth": shown.issued_at.month, "certUrl": shown.url, "certId": award.public_id,
        **({"expirationYear": shown.expires_at.year, "expirationMonth": shown.expires_at.month}
           if shown.expires_at else {})})
    return render(request, "award.html", a=shown, credential=credential, checked=checked,
                  issuer=settings.issuer_name, linkedin=linkedin,
                  issuer_did=award.document["issuer"]["id"],
                  has_image=credential.image is not None)


@router.get("/awards/{award_id}/credential.json")
def award_download(award_id: AwardId, session: ReadSessionDep) -> Response:
    award = service.by_public(session, award_id)
    return Response(service.document_bytes(award), media_type="application/vc+ld+json",
                    headers={"Content-Disposition":
                             f'attachment; filename="credential-{award.public_id}.json"'})


@router.get("/awards/{award_id}/badge")
def baked_badge(award_id: AwardId, session: ReadSessionDep) -> Response:
    """The badge image with the signed credential baked into it."""
    award = service.by_public(session, award_id)
    credential = session.get(Credential, award.credential_id)
    if credential is None or credential.image is None or credential.image_type is None:
        raise NotFound("this credential has no badge image")
    suffix = "png" if credential.image_type == "image/png" else "svg"
    baked = bake(credential.image, credential.image_type,
                 service.document_bytes(award).decode())
    return Response(baked, media_type=credential.image_type, headers={
        "Content-Disposition": f'attachment; filename="badge-{award.public_id}.{suffix}"'})
