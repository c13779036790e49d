"""Your requests and questions: asking an organisation for a copy of your data, and
where each request and question stands."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api.citizen_cases import citizen_case, citizen_cases, record_request
from api.deps import Views
from api.problems import Problem
from portal.deps import PostedForm, SignedIn
from portal.pages import PortalError, not_found, render
from projections import cases as case_view

router = APIRouter()

# The title of each step of a request or a question, in the citizen's words.
STEP_TITLES = {
    "received": "Request received",
    "identity-verified": "Your identity confirmed",
    "clarification-requested": "Asked what you are asking for",
    "clarification-received": "Your answer received",
    "extended": "Time limit extended",
    "responded": "Request answered",
    "refused": "Request refused",
    "closed": "Request closed",
    "raised": "Question sent",
    "answered": "Question answered",
}


@router.get("/requests")
async def your_requests(request: Request, subject: SignedIn, views: Views) -> Response:
    cases = await citizen_cases(views, [subject.key])
    return render(request, "requests.html", cases=cases)


@router.get("/requests/new")
async def ask_for_your_data(request: Request, subject: SignedIn, views: Views) -> Response:
    organisations = await views.organisations()
    return render(request, "request_new.html", organisations=organisations, error=None)


@router.post("/requests")
async def open_request(
    request: Request, subject: SignedIn, views: Views, form: PostedForm
) -> Response:
    organisations = await views.organisations()
    organisation = form.get("organisation", "")
    if organisation not in organisations:
        return render(
            request,
            "request_new.html",
            status=400,
            organisations=organisations,
            error="Select the organisation you want a copy of your data from",
        )
    try:
        reference, at = await record_request(request, subject, organisation)
    except Problem as problem:
        raise PortalError(
            problem.status, "Sorry, we could not send your request", problem.title
        ) from None
    await views.reached(at, ("cases",), request.app.state.settings.read_wait_seconds)
    return RedirectResponse(f"/requests/{organisation}/{reference}", status_code=303)


@router.get("/requests/{organisation}/{reference}")
async def one_request(
    request: Request, organisation: str, reference: str, subject: SignedIn, views: Views
) -> Response:
    rows = await case_view.cases_of_subjects(views, [subject.key])
    found = [r for r in rows if r.organisation == organisation and r.reference == reference]
    if not found:
        raise not_found()
    names = await views.organisation_names([organisation])
    case = await citizen_case(views, found[0], names)
    return render(request, "case.html", case=case, step_titles=STEP_TITLES)
