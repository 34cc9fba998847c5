"""Revocation through W3C Bitstring Status Lists: each award owns one bit of a list, chosen at
random so that neighbouring bits say nothing about each other, and the service serves every
list as a signed credential."""

import base64
import gzip
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from plumbing.settings import Settings
from workflow.awards.models import STATUS_LIST_SIZE, Award
from workflow.awards.signing import VC2_CONTEXT_URL, Signer, iso, sign_jwt
from workflow.errors import NotFound

# How long a served list may be trusted before a verifier must fetch it again.
LIST_LIFETIME = timedelta(days=1)


def list_url(settings: Settings, number: int) -> str:
    return f"{settings.base_url.rstrip('/')}/api/status-lists/{number}"


def free_place(session: Session) -> tuple[int, int]:
    """A list and an index in it no award holds yet."""
    for number in range(1, 1_000):
        taken = set(session.exec(select(Award.status_index)
                                 .where(Award.status_list == number)).all())
        if len(taken) >= STATUS_LIST_SIZE // 2:
            continue  # keep lists sparse, so a free index is found at once
        while True:
            index = secrets.randbelow(STATUS_LIST_SIZE)
            if index not in taken:
                return number, index
    raise RuntimeError("no free place in any status list")


def entry(settings: Settings, number: int, index: int) -> dict[str, Any]:
    """An award's `credentialStatus`."""
    url = list_url(settings, number)
    return {"id": f"{url}#{index}", "type": "BitstringStatusListEntry",
            "statusPurpose": "revocation", "statusListIndex": str(index),
            "statusListCredential": url}


def encoded_list(revoked: set[int]) -> str:
    """The list's bits, index 0 the high bit of the first byte, gzipped, multibase base64url."""
    bits = bytearray(STATUS_LIST_SIZE // 8)
    for index in revoked:
        bits[index // 8] |= 0x80 >> (index % 8)
    packed = gzip.compress(bytes(bits), mtime=0)
    return "u" + base64.urlsafe_b64encode(packed).rstrip(b"=").decode("ascii")


def signed_list(session: Session, settings: Settings, signer: Signer, number: int,
                now: datetime) -> str:
    """The list as a VC-JWT, signed with the current key, valid for a day."""
    if number < 1 or session.exec(select(Award.id).where(Award.status_list == number)
                                  .limit(1)).first() is None:
        raise NotFound("no such status list")
    revoked = set(session.exec(select(Award.status_index).where(
        Award.status_list == number, col(Award.revoked_at).is_not(None))).all())
    url = list_url(settings, number)
    credential: dict[str, Any] = {
        "@context": [VC2_CONTEXT_URL],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": signer.did,
        "validFrom": iso(now),
        "validUntil": iso(now + LIST_LIFETIME),
        "credentialSubject": {"id": f"{url}#list", "type": "BitstringStatusList",
                              "statusPurpose": "revocation",
                              "encodedList": encoded_list(revoked)},
    }
    return sign_jwt({**credential, "iss": signer.did, "jti": url,
                     "nbf": int(now.timestamp()),
                     "exp": int((now + LIST_LIFETIME).timestamp())}, signer)
