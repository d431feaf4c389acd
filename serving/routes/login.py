"""Browser sign-in for the HTML pages: ``GET /login``, ``POST /login``, ``POST /logout``.

``POST /login`` takes the form field ``key`` (an analyst or admin API key) and ``next``
(a local path), and answers 303 to ``next`` with the session cookie of
``serving.sessions``. A page request without a usable session (``LoginRequiredError``) is
answered 401 with this login form for a browser, with the JSON 401 for other clients.
None of these routes is in the public OpenAPI schema.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from serving.auth import grants
from serving.sessions import COOKIE, LoginRequiredError, Sessions
from serving.settings import Role

router = APIRouter(include_in_schema=False)
MAX_FORM_BYTES = 4096
PAGE_ROLE = Role.ANALYST
NO_STORE = {"Cache-Control": "no-store"}


@functools.cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("serving", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )


def safe_target(value: str | None) -> str:
    """``value`` when it is a path on this server (``/...``), else ``/login``: a sign-in
    never sends the browser elsewhere."""
    if (
        not value
        or not value.startswith("/")
        or value.startswith(("//", "/\\"))
        or any(c in value for c in "\\\r\n\t")
    ):
        return "/login"
    return value


def login_page(
    code: int, target: str = "/login", message: str = "", signed_in: Any = None, hours: float = 8
) -> HTMLResponse:
    """The sign-in form (or the signed-in note), with status ``code``."""
    html = (
        _environment()
        .get_template("login.html")
        .render(target=target, message=message, signed_in=signed_in, hours=f"{hours:g}")
    )
    return HTMLResponse(html, status_code=code, headers=NO_STORE)


def _hours(request: Request) -> float:
    return request.app.state.sessions.ttl_s / 3600


@router.get("/login", response_class=HTMLResponse)
async def login_form(
    request: Request, target: Annotated[str | None, Query(alias="next")] = None
) -> HTMLResponse:
    """The sign-in form, or who is signed in."""
    sessions: Sessions = request.app.state.sessions
    token = request.cookies.get(COOKIE)
    role = sessions.verify(token, request.app.state.keys) if token else None
    if role is not None and token is not None:
        until = datetime.fromtimestamp(sessions.expires(token) or 0, UTC)
        note = {"role": role.value, "until": until.strftime("%Y-%m-%d %H:%M UTC")}
        return login_page(200, signed_in=note, hours=_hours(request))
    return login_page(200, safe_target(target), hours=_hours(request))


async def _form(request: Request) -> dict[str, str]:
    """The url-encoded form of the request (first value of each field), size-capped."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "send the sign-in form")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "sign-in form too large")
    fields = parse_qs(body.decode("utf-8", "replace"), max_num_fields=8)
    return {k: v[0] for k, v in fields.items() if v}


@router.post("/login")
async def login(request: Request) -> Response:
    """Check the key; on success set the session cookie and go to ``next`` (303)."""
    form = await _form(request)
    target = safe_target(form.get("next"))
    key = form.get("key", "")
    found = request.app.state.keys.identify(key) if key else None
    if found is None:
        return login_page(401, target, "Unknown key.", hours=_hours(request))
    digest, role = found
    if not grants(role, PAGE_ROLE):
        message = f"A {role.value} key may not open explanation pages: use an analyst key."
        return login_page(403, target, message, hours=_hours(request))
    sessions: Sessions = request.app.state.sessions
    answer = RedirectResponse(target, status.HTTP_303_SEE_OTHER, headers=NO_STORE)
    answer.set_cookie(
        COOKIE,
        sessions.issue(digest),
        max_age=sessions.ttl_s,
        path="/",
        secure=True,
        httponly=True,
        samesite="strict",
    )
    return answer


@router.post("/logout")
async def logout() -> Response:
    """End the browser session (the cookie is cleared) and show the sign-in form."""
    answer = RedirectResponse("/login", status.HTTP_303_SEE_OTHER, headers=NO_STORE)
    answer.delete_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="strict")
    return answer


async def _login_required(request: Request, exc: Exception) -> Response:
    """401: the sign-in form for a browser, the JSON error for an API client."""
    assert isinstance(exc, LoginRequiredError)
    if "text/html" in request.headers.get("accept", ""):
        answer: Response = login_page(
            401, safe_target(exc.target), exc.message, hours=_hours(request)
        )
    else:
        detail = f"missing API key: send it in the X-API-Key header ({exc.message})"
        answer = JSONResponse(
            {"detail": detail}, status_code=401, headers={"WWW-Authenticate": "ApiKey"}
        )
    if request.cookies.get(COOKIE):
        answer.delete_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="strict")
    return answer


def install(app: FastAPI) -> None:
    """Add the routes and the handler answering ``LoginRequiredError``."""
    app.include_router(router)
    app.add_exception_handler(LoginRequiredError, _login_required)
