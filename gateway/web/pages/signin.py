"""Signing in and out. On the embedded default one chooses a demo user (the page says it is
a demonstration) and the gateway signs their token itself; with an OpenID Connect provider
the page sends people to its sign-in (``oidc.py``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway.auth import LocalKeys
from gateway.demo import DemoUser, demo_users
from gateway.web.pages import session
from gateway.web.pages.graphql import SignInAgain, Unanswered, ask
from gateway.web.pages.render import N_, language, page, translations

ME = "{ me { orgId role organisation { name } } }"


def _keys(request: Request) -> LocalKeys | None:
    keys: LocalKeys | None = request.app.state.local_keys
    return keys


async def sign_in_page(request: Request) -> Response:
    return sign_in_form(request)


def sign_in_form(request: Request, error: str | None = None, status: int = 200) -> Response:
    users = demo_users() if _keys(request) is not None else []
    words = translations(language(request))
    roles = {
        "commissioner": N_("Commissioner"),
        "partner": N_("Partner"),
        "operator": N_("Operator"),
    }
    items = [
        {
            "value": u.subject,
            "text": u.name,
            "hint": {"text": f"{words.gettext(roles[u.role.value])} · {u.org_id}"},
        }
        for u in users
    ]
    return page(
        request,
        "sign_in.html",
        status=status,
        users=users,
        items=items,
        # The gateway's refusals are written to follow a colon; here they start a sentence.
        error=error[:1].upper() + error[1:] if error else None,
        csrf=session.csrf_token(request),
        provider=request.app.state.provider is not None,
    )


async def sign_in(request: Request) -> Response:
    fields = await session.form(request)
    keys = _keys(request)
    chosen = [u for u in demo_users() if u.subject == fields.get("user")] if keys else []
    if keys is None or not chosen:
        return sign_in_form(request, error=N_("Choose who to sign in as"), status=422)
    demo: DemoUser = chosen[0]
    token = keys.sign(demo.principal())
    user = session.User(token=token, name=demo.name, org_id=demo.org_id, role=demo.role.value)
    return await signed_in(request, user, local(request.query_params.get("next")))


async def signed_in(request: Request, user: session.User, then: str) -> Response:
    """A new session for ``user``, once the gateway accepts them, then on to ``then``."""
    session.sign_in(request, user)
    try:
        await ask(request, ME)  # the organisation must exist and fit the role
    except (Unanswered, SignInAgain) as exc:
        session.sign_out(request)
        return sign_in_form(request, error=str(exc), status=422)
    return RedirectResponse(then, status_code=303)


def local(path: str | None) -> str:
    """Where to go after signing in: a path on this site, never another site."""
    if path and path.startswith("/") and not path.startswith("//") and "\\" not in path:
        return path
    return "/"


async def sign_out(request: Request) -> Response:
    await session.form(request)
    session.sign_out(request)
    return RedirectResponse("/", status_code=303)
