"""The portal's pages, one module per part of the service."""

from fastapi import APIRouter

from portal.routes import choices, download, public, requests, signing_in, your_data

router = APIRouter(include_in_schema=False)
# download before your_data: /your-data/download is not an entry's position.
for module in (signing_in, download, your_data, choices, requests, public):
    router.include_router(module.router)

# The development sign-in (a demo citizen, no password): never mounted in production.
development_router = APIRouter(include_in_schema=False)
development_router.include_router(signing_in.development)
