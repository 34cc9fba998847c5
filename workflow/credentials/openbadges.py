"""Open Badges documents of a published credential: the 3.0 Achievement, the 2.0 BadgeClass,
and the body Canvas Credentials (Badgr API v2) takes to create a BadgeClass.

The Achievement is checked against the 1EdTech JSON Schema and expanded with the OB 3.0
JSON-LD context, both shipped in `workflow/credentials/standards/` (no network).
"""

import base64
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft201909Validator
from pyld import jsonld

STANDARDS = Path(__file__).parent / "standards"
SCHEMA_FILE = STANDARDS / "ob_v3p0_achievementcredential_schema.json"
CONTEXT_FILE = STANDARDS / "ob_v3p0_context-3.0.3.json"
OB3_CONTEXT_URL = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
OB2_CONTEXT_URL = "https://w3id.org/openbadges/v2"
NACE_URL = "https://www.naceweb.org/career-readiness/competencies/career-readiness-defined/"
NACE_FRAMEWORK = "NACE Career Readiness Competencies"
NACE_NAMES = {
    "career_and_self_development": "Career & Self-Development",
    "communication": "Communication",
    "critical_thinking": "Critical Thinking",
    "equity_and_inclusion": "Equity & Inclusion",
    "leadership": "Leadership",
    "professionalism": "Professionalism",
    "teamwork": "Teamwork",
    "technology": "Technology",
}


@dataclass(frozen=True)
class Issuer:
    name: str
    url: str
    email: str | None = None


@dataclass(frozen=True)
class Publication:
    """Everything the documents say, taken from the credential's snapshot."""

    url: str  # the credential's public page
    api_url: str  # where its JSON lives: {base}/api/credentials/{public_id}
    version: int
    title: str
    description: str
    criteria_narrative: str
    image_url: str | None
    image_caption: str | None
    credit_bearing: bool
    credits: float | None
    competencies: tuple[str, ...]
    tags: tuple[str, ...]
    department_code: str
    department_name: str
    department_url: str
    issuer: Issuer
    predecessor_url: str | None = None
    predecessor_version: int | None = None
    expiration_months: int | None = None


def alignments(competencies: tuple[str, ...]) -> list[dict[str, str]]:
    return [
        {"targetName": NACE_NAMES.get(key, key), "targetUrl": f"{NACE_URL}#{key}",
         "targetDescription": f"NACE career readiness competency: {NACE_NAMES.get(key, key)}",
         "targetFramework": NACE_FRAMEWORK, "targetCode": key}
        for key in competencies
    ]


def achievement(p: Publication) -> dict[str, Any]:
    """The Open Badges 3.0 Achievement."""
    creator: dict[str, Any] = {
        "id": p.issuer.url, "type": ["Profile"], "name": p.issuer.name, "url": p.issuer.url,
        # As the issue asks: the university is the issuer profile and names the department.
        "parentOrg": {"id": p.department_url, "type": ["Profile"], "name": p.department_name},
    }
    if p.issuer.email:
        creator["email"] = p.issuer.email
    document: dict[str, Any] = {
        "@context": [OB3_CONTEXT_URL],
        "id": p.url,
        "type": ["Achievement"],
        "achievementType": "MicroCredential",
        "name": p.title,
        "description": p.description,
        "criteria": {"id": f"{p.url}#criteria", "narrative": p.criteria_narrative},
        "creator": creator,
        "version": str(p.version),
    }
    if p.image_url:
        document["image"] = {"id": p.image_url, "type": "Image",
                             "caption": p.image_caption or p.title}
    if p.credit_bearing and p.credits is not None:
        document["creditsAvailable"] = float(p.credits)
    if p.competencies:
        document["alignment"] = [{"type": ["Alignment"], "targetType": "ceasn:Competency", **a}
                                 for a in alignments(p.competencies)]
    if p.tags:
        document["tag"] = list(p.tags)
    if p.predecessor_url:
        document["related"] = [{"id": p.predecessor_url, "type": ["Related"],
                                "version": str(p.predecessor_version)}]
    return document


def badgeclass(p: Publication) -> dict[str, Any]:
    """The Open Badges 2.0 BadgeClass, hosted, in the shape Canvas Credentials imports."""
    document: dict[str, Any] = {
        "@context": OB2_CONTEXT_URL,
        "type": "BadgeClass",
        "id": f"{p.api_url}/badgeclass",
        "name": p.title,
        "description": p.description,
        "criteria": {"id": f"{p.url}#criteria", "narrative": p.criteria_narrative},
        "issuer": {"@context": OB2_CONTEXT_URL, "type": "Profile", "id": p.issuer.url,
                   "name": p.issuer.name, "url": p.issuer.url,
                   **({"email": p.issuer.email} if p.issuer.email else {})},
        "alignment": alignments(p.competencies),
        "tags": list(p.tags),
        "version": str(p.version),
    }
    if p.image_url:
        document["image"] = {"id": p.image_url, "caption": p.image_caption or p.title}
    if p.predecessor_url:
        document["related"] = [{"id": p.predecessor_url, "version": str(p.predecessor_version)}]
    return document


def canvas_badgeclass(p: Publication, image: bytes, image_type: str) -> dict[str, Any]:
    """The body of POST /v2/issuers/{entityId}/badgeclasses (Badgr API v2)."""
    body: dict[str, Any] = {
        "name": p.title[:1024],
        "description": p.description[:16384],
        "image": f"data:{image_type};base64,{base64.b64encode(image).decode()}",
        "criteriaNarrative": p.criteria_narrative,
        "criteriaUrl": f"{p.url}#criteria",
        "alignments": alignments(p.competencies),
        "tags": list(p.tags),
    }
    if p.expiration_months:
        body["expires"] = {"amount": p.expiration_months, "duration": "months"}
    return body


# --- validation ----------------------------------------------------------------------------


@cache
def _schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_FILE.read_text())
    return loaded


@cache
def _validator() -> Draft201909Validator:
    # `$defs/Achievement` with the file's own `$defs` beside it, so its `$ref`s resolve inside.
    schema = _schema()
    return Draft201909Validator({"$schema": schema["$schema"], "$defs": schema["$defs"],
                                 "$ref": "#/$defs/Achievement"})


@cache
def local_context() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(CONTEXT_FILE.read_text())
    return loaded


def document_loader(url: str, _options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Serve the OB 3.0 context from disk; refuse any other URL (no network, ever)."""
    if url.rstrip("/") == OB3_CONTEXT_URL:
        return {"contentType": "application/ld+json", "contextUrl": None, "documentUrl": url,
                "document": local_context()}
    raise jsonld.JsonLdError(f"no local copy of {url}", "jsonld.LoadDocumentError",
                             code="loading document failed")


def schema_problems(document: dict[str, Any]) -> list[str]:
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '(document)'}: {e.message}"
            for e in _validator().iter_errors(document)]


# The keys whose string values the schema constrains (enums, patterns) or JSON-LD reads (types);
# every other string is free text to both (the schema's `format`s are annotations only).
LITERAL_KEYS = frozenset({"type", "@context", "achievementType", "targetType", "inLanguage",
                          "status", "identifierType", "identityType", "resultType",
                          "endorsementJwt"})


def _shape(value: Any, literal: bool = False) -> Any:
    """The document with its free text replaced by its type: what validity depends on."""
    if isinstance(value, dict):
        return tuple(sorted((k, _shape(v, k in LITERAL_KEYS)) for k, v in value.items()))
    if isinstance(value, list):
        return ("list", *(_shape(v, literal) for v in value))
    if isinstance(value, str):
        return value if literal else "str"
    return type(value).__name__


# Shapes already found valid: an import of thousands of like-shaped documents checks each
# shape once (validity depends on keys, value types and the constrained values only).
_valid_shapes: set[Any] = set()


def jsonld_problems(document: dict[str, Any]) -> list[str]:
    """Expand with the local context; every property it would drop is an unknown term."""
    dropped: list[str] = []
    try:
        jsonld.expand(document, {"documentLoader": document_loader},
                      on_property_dropped=lambda name: dropped.append(str(name)))
    except jsonld.JsonLdError as error:
        return [f"JSON-LD expansion failed: {error}"]
    return [f"unknown JSON-LD term: {name}" for name in dropped]


def achievement_problems(document: dict[str, Any]) -> list[str]:
    """Why the Achievement is not valid Open Badges 3.0 (empty when it is)."""
    shape = _shape(document)
    if shape in _valid_shapes:
        return []
    problems = schema_problems(document) + jsonld_problems(document)
    if not problems and len(_valid_shapes) < 10_000:
        _valid_shapes.add(shape)
    return problems
