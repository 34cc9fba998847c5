"""The university's signing key, its did:web identity, and the two ways it signs.

Awards carry a Data Integrity proof (`eddsa-rdfc-2022`, as Open Badges 3.0 allows): the
document served is the credential itself, signed once when it is awarded and kept as signed.
Status lists are signed as VC-JWTs, the form verifiers check a status list's signature in.

The key is an Ed25519 private key in a PEM file (MICROCRED_SIGNING_KEY_FILE; the embedded
SQLite default keeps one beside its database). Rotating it means replacing the file: every
public key the service has signed with stays in `signing_key` and in the DID document, so
awards signed before still verify.
"""

import copy
import hashlib
import json
import os
import threading
import warnings
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import base58
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from joserfc import jws
from joserfc.jwk import OKPKey
from pyld import jsonld
from sqlalchemy.engine import make_url
from sqlmodel import Session, col, select

from plumbing.settings import Settings
from workflow.awards.models import SigningKey
from workflow.credentials.openbadges import OB3_CONTEXT_URL, STANDARDS
from workflow.errors import Unavailable
from workflow.fields import utcnow

VC2_CONTEXT_URL = "https://www.w3.org/ns/credentials/v2"
DID_CONTEXT_URL = "https://www.w3.org/ns/did/v1"
MULTIKEY_CONTEXT_URL = "https://w3id.org/security/multikey/v1"
CONTEXT_FILES = {
    VC2_CONTEXT_URL: STANDARDS / "credentials-v2.jsonld",
    OB3_CONTEXT_URL: STANDARDS / "ob_v3p0_context-3.0.3.json",
}
# pyld keeps caches that are not safe to use from several threads at once, and FastAPI runs
# endpoints in a thread pool.
JSONLD_LOCK = threading.Lock()
# The multicodec prefix of an Ed25519 public key in a Multikey.
ED25519_PUBLIC = b"\xed\x01"


@lru_cache(maxsize=4)
def _context(url: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(CONTEXT_FILES[url].read_text())
    return loaded


def document_loader(url: str, _options: Any = None) -> dict[str, Any]:
    """The JSON-LD contexts an award uses, from the copies shipped with the code."""
    if url not in CONTEXT_FILES:
        raise jsonld.JsonLdError(f"no local copy of {url}", "jsonld.LoadDocumentError",
                                 code="loading document failed")
    return {"contentType": "application/ld+json", "contextUrl": None, "documentUrl": url,
            "document": _context(url)}


# --- the key and the identity ----------------------------------------------------------------


def key_file(settings: Settings) -> Path:
    """Where the signing key lives: the setting, or beside the embedded SQLite database."""
    if settings.signing_key_file:
        return Path(settings.signing_key_file)
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).resolve().parent / "microcred-signing-key.pem"
    raise Unavailable("awards are not configured: set MICROCRED_SIGNING_KEY_FILE to the path "
                      "of the university's Ed25519 signing key")


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """The key in the file, made (mode 0600) if there is none yet; several processes may ask
    at once, and exactly one key is made."""
    if path.exists():
        return _read_key(path, path.stat().st_mtime_ns)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}.new")
    with os.fdopen(os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
        out.write(pem)
    try:
        os.link(draft, path)  # never replaces a key another process made first
    except FileExistsError:
        return load_or_create_key(path)
    finally:
        draft.unlink()
    return key


@lru_cache(maxsize=4)
def _read_key(path: Path, _modified: int) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise Unavailable(f"{path} holds no Ed25519 private key")
    return key


def did_web(base_url: str) -> str:
    """The service's did:web: its host (a port's colon encoded) and any path, so that the
    document resolves to /.well-known/did.json, or /<path>/did.json under a path."""
    parts = urlsplit(base_url)
    authority = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
    segments = [authority] + [segment for segment in parts.path.split("/") if segment]
    return "did:web:" + ":".join(quote(segment, safe="") for segment in segments)


def multibase(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "z" + base58.b58encode(ED25519_PUBLIC + raw).decode("ascii")


def fragment(key: Ed25519PublicKey) -> str:
    """The key's name in the DID document, from the key itself: a rotation adds a name."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "key-" + hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True)
class Signer:
    """The current key, and the identity every key the service has used is published under."""

    did: str
    key: Ed25519PrivateKey
    published: tuple[SigningKey, ...]  # current first, then retired ones, newest first

    @property
    def key_id(self) -> str:
        return f"{self.did}#{fragment(self.key.public_key())}"

    def did_document(self) -> dict[str, Any]:
        methods = [{"id": row.key_id, "type": "Multikey", "controller": self.did,
                    "publicKeyMultibase": row.public_multibase} for row in self.published]
        names = [method["id"] for method in methods]
        return {"@context": [DID_CONTEXT_URL, MULTIKEY_CONTEXT_URL], "id": self.did,
                "verificationMethod": methods, "assertionMethod": names,
                "authentication": names}


def signer(session: Session, settings: Settings) -> Signer:
    """The signer of this service, recording a key it has not signed with before (in the
    caller's transaction) and marking the keys before it retired."""
    key = load_or_create_key(key_file(settings))
    did = did_web(settings.base_url)
    key_id = f"{did}#{fragment(key.public_key())}"
    rows = list(session.exec(select(SigningKey).order_by(col(SigningKey.id).desc())).all())
    if not any(row.key_id == key_id for row in rows):
        now = utcnow()
        for row in rows:
            if row.retired_at is None:
                row.retired_at = now
                session.add(row)
        current = SigningKey(key_id=key_id, public_multibase=multibase(key.public_key()),
                             created_at=now)
        session.add(current)
        session.flush()
        rows.insert(0, current)
    rows.sort(key=lambda row: (row.key_id != key_id, -(row.id or 0)))
    return Signer(did, key, tuple(rows))


# --- signing ---------------------------------------------------------------------------------


def iso(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def dropped_terms(document: dict[str, Any]) -> list[str]:
    """Members JSON-LD would drop (terms no context defines): a proof would not cover them."""
    dropped: list[str] = []
    with JSONLD_LOCK:
        jsonld.expand(document, {"documentLoader": document_loader},
                      on_property_dropped=lambda name: dropped.append(str(name)))
    return dropped


def _canonical_hash(document: dict[str, Any]) -> bytes:
    with JSONLD_LOCK:
        nquads = jsonld.normalize(document, {"algorithm": "URDNA2015",
                                             "format": "application/n-quads",
                                             "documentLoader": document_loader})
    return hashlib.sha256(nquads.encode()).digest()


def proof_input(document: dict[str, Any], proof: dict[str, Any]) -> bytes:
    """What an `eddsa-rdfc-2022` signature signs: the hash of the proof's options, then the
    hash of the document, each canonicalized (RDFC-1.0)."""
    unsigned = {name: value for name, value in document.items() if name != "proof"}
    options = {"@context": document["@context"],
               **{name: value for name, value in proof.items() if name != "proofValue"}}
    return _canonical_hash(options) + _canonical_hash(unsigned)


def sign_document(document: dict[str, Any], signer: Signer, at: datetime) -> dict[str, Any]:
    """The document with a Data Integrity proof; a term the proof would not cover refuses."""
    dropped = dropped_terms(document)
    if dropped:
        raise ValueError(f"terms no context defines, which a proof would not cover: {dropped}")
    proof = {"type": "DataIntegrityProof", "cryptosuite": "eddsa-rdfc-2022", "created": iso(at),
             "verificationMethod": signer.key_id, "proofPurpose": "assertionMethod"}
    signature = signer.key.sign(proof_input(document, proof))
    signed = copy.deepcopy(document)
    # A list of one: the Open Badges 3.0 schema types `proof` as an array.
    signed["proof"] = [{**proof, "proofValue": "z" + base58.b58encode(signature).decode()}]
    return signed


def verify_document(document: dict[str, Any], public_multibase: str) -> bool:
    """Whether the document's proof is a good signature by this key (for our own pages; the
    tests verify with an independent library)."""
    proofs = document.get("proof") or []
    if not isinstance(proofs, list) or len(proofs) != 1:
        return False
    proof = proofs[0]
    raw = base58.b58decode(public_multibase[1:])
    if not raw.startswith(ED25519_PUBLIC) or not str(proof.get("proofValue", "")).startswith("z"):
        return False
    public = Ed25519PublicKey.from_public_bytes(raw[len(ED25519_PUBLIC):])
    try:
        public.verify(base58.b58decode(proof["proofValue"][1:]), proof_input(document, proof))
    except Exception:  # cryptography's InvalidSignature, or a malformed value
        return False
    return True


def sign_jwt(payload: dict[str, Any], signer: Signer) -> str:
    """A compact JWS of the payload (`alg: EdDSA`, the name Open Badges verifiers accept)."""
    key = OKPKey.import_key(signer.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    header = {"alg": "EdDSA", "typ": "JWT", "kid": signer.key_id}
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    with warnings.catch_warnings():
        # joserfc prefers RFC 9864's "Ed25519"; Open Badges verifiers accept only "EdDSA".
        warnings.simplefilter("ignore")
        return jws.serialize_compact(header, body, key, algorithms=["EdDSA"])
