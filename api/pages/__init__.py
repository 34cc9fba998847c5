"""Server-rendered pages: every action works without JavaScript and goes through the door."""

from fastapi import APIRouter

from api.pages import (
    awards,
    catalog,
    credential_reviews,
    designs,
    meetings,
    office,
    proposal_sections,
    proposals,
    reviews,
    sign_in,
)

router = APIRouter(include_in_schema=False)
router.include_router(sign_in.router)
# Before proposals: /proposals/{id}/review must not be read as a trigger.
router.include_router(reviews.router)
router.include_router(designs.router)
router.include_router(proposals.router)
router.include_router(office.router)
router.include_router(catalog.router)
router.include_router(meetings.router)
router.include_router(proposal_sections.router)
router.include_router(credential_reviews.router)
router.include_router(awards.router)
