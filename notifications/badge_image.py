"""A badge design's image for the email that asks the badge office to approve it.

The design is not public before it is approved, so the email links the image at an address
signed for that proposal and that very image (its SHA-256): a new upload, or another proposal,
needs another signature. A mail client that blocks remote images shows the alt text instead.
"""

import hashlib
import hmac

from plumbing.settings import Settings


def signature(key: bytes, proposal_id: int, sha256: str) -> str:
    message = f"email-badge-image:{proposal_id}:{sha256}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def url(settings: Settings, proposal_id: int, sha256: str) -> str:
    base = settings.base_url.rstrip("/")
    signed = signature(settings.verifying_keys()[0], proposal_id, sha256)
    return f"{base}/proposals/{proposal_id}/design/email-image/{signed}"


def valid(settings: Settings, proposal_id: int, sha256: str, signed: str) -> bool:
    return any(hmac.compare_digest(signature(key, proposal_id, sha256), signed)
               for key in settings.verifying_keys())
