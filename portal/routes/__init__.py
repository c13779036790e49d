"""The portal's pages, one module per part of the service."""

from fastapi import APIRouter

from portal.routes import download, requests, signing_in, your_data

router = APIRouter(include_in_schema=False)
for module in (signing_in, download, your_data, requests):
    router.include_router(module.router)

# The development sign-in (a demo citizen, no password): never mounted in production.
development_router = APIRouter(include_in_schema=False)
development_router.include_router(signing_in.development)
