"""An award's public page: what a learner shares and an employer checks, with no sign-in."""

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlmodel import Session
from starlette.datastructures import UploadFile

from api.deps import ReadSessionDep, SessionDep, SettingsDep
from api.routes.credentials import CredentialId
from api.web import CsrfChecked, MaybeWebUser, WebUser, render, see_other, web_role
from workflow.access import Grants
from workflow.accounts.models import Role
from workflow.audit import Channel
from workflow.awards import batches, participation, service
from workflow.awards.baking import bake
from workflow.awards.models import AwardBatch, AwardRequest, Recipient
from workflow.credentials.catalog import by_public_id
from workflow.credentials.models import Credential
from workflow.errors import Forbidden, NotFound, Unprocessable
from workflow.fields import MAX_ID

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


# --- awarding, for the credential's awarders --------------------------------------------------

MAX_FILE_BYTES = 1024 * 1024


def _awarding(session: Session, public_id: str, me: Grants) -> Credential:
    credential = by_public_id(session, public_id)
    if not service.may_see_awards(session, me, credential):
        raise Forbidden("only the badge office and the credential's awarders see its awards")
    return credential


@router.get("/credentials/{public_id}/awards", response_class=HTMLResponse)
def awards_page(public_id: CredentialId, request: Request, session: ReadSessionDep,
                settings: SettingsDep, me: WebUser) -> HTMLResponse:
    credential = _awarding(session, public_id, me)
    made = [service.to_public(session, one, settings)
            for one in service.of_credential(session, credential)]
    months = participation.by_month(session, credential)
    return render(request, "awards.html", credential=credential, awards=made,
                  months=months, most=max((n for _, n in months), default=0),
                  may_award=service.awarders_problem(session, me, credential) is None,
                  batches=batches.of_credential(session, credential))


@router.post("/credentials/{public_id}/awards", dependencies=[CsrfChecked])
def award_one(public_id: CredentialId, session: SessionDep, settings: SettingsDep,
              me: WebUser, email: Annotated[str, Form(max_length=254)],
              name: Annotated[str, Form(max_length=200)],
              evidence_url: Annotated[str, Form(max_length=2000)] = "") -> Response:
    try:
        request = AwardRequest(recipients=[Recipient(email=email, name=name)],
                               evidence_url=evidence_url.strip() or None)
    except ValidationError as error:
        raise Unprocessable([{"msg": f"{e['loc'][-1]}: {e['msg']}"} for e in error.errors()]
                            ) from error
    service.issue(session, public_id, request.recipients, me,
                  evidence_url=request.evidence_url, via=Channel.WEB, settings=settings)
    return see_other(f"/credentials/{public_id}/awards?done=awarded")


@router.post("/credentials/{public_id}/awards/check", dependencies=[CsrfChecked])
async def check_file(public_id: CredentialId, request: Request, session: SessionDep,
                     me: WebUser) -> Response:
    form = await request.form(max_files=1)
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise Unprocessable([{"msg": "choose a CSV file with the columns email,name"}])
    data = await upload.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise Unprocessable([{"msg": "the file is larger than 1 MB; split it"}])
    evidence = form.get("evidence_url")
    evidence_url = evidence.strip() if isinstance(evidence, str) and evidence.strip() else None
    if evidence_url:
        try:
            AwardRequest(recipients=[Recipient(email="a@example.com", name="a")],
                         evidence_url=evidence_url)
        except ValidationError as error:
            raise Unprocessable([{"msg": "the evidence link must be a web address"}]) from error
    batch = batches.check_file(session, public_id, data, upload.filename, me, evidence_url)
    return see_other(f"/credentials/{public_id}/awards/batches/{batch.id}")


@router.get("/credentials/{public_id}/awards/batches/{batch_id}", response_class=HTMLResponse)
def batch_page(public_id: CredentialId, batch_id: Annotated[int, Path(ge=1, le=MAX_ID)],
               request: Request, session: ReadSessionDep, me: WebUser) -> HTMLResponse:
    credential = _awarding(session, public_id, me)
    batch = session.get(AwardBatch, batch_id)
    if batch is None or batch.credential_id != credential.id:
        raise NotFound("no such file of awards")
    done, total = batches.progress(batch)
    return render(request, "award_batch.html", credential=credential, batch=batch,
                  done=done, total=total,
                  ready=sum(1 for line in batch.lines if line["problem"] is None))


@router.post("/credentials/{public_id}/awards/batches/{batch_id}/start",
             dependencies=[CsrfChecked])
def start_batch(public_id: CredentialId, batch_id: Annotated[int, Path(ge=1, le=MAX_ID)],
                session: SessionDep, me: WebUser) -> Response:
    batches.start(session, batch_id, me)
    return see_other(f"/credentials/{public_id}/awards/batches/{batch_id}")


@router.post("/awards/{award_id}/revoke", dependencies=[CsrfChecked])
def revoke_award(award_id: AwardId, session: SessionDep, me: WebUser,
                 reason: Annotated[str, Form(max_length=2000)] = "") -> Response:
    if not reason.strip():
        raise Unprocessable([{"msg": "say why the award is revoked"}])
    award = service.revoke(session, award_id, reason.strip(), me, via=Channel.WEB)
    credential = session.get(Credential, award.credential_id)
    assert credential is not None
    return see_other(f"/credentials/{credential.public_id}/awards?done=revoked")


@router.get("/overview/awards.csv")
def participation_csv(session: ReadSessionDep,
                      _office: Annotated[Grants, web_role(Role.COORDINATOR, Role.ADMIN)]
                      ) -> Response:
    """Awards per credential and term, for the badge office's reports."""
    return Response(participation.as_csv(participation.by_term(session)),
                    media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition":
                             'attachment; filename="awards-by-term.csv"'})
