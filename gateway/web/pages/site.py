"""The front end's routes, its session and how its failures look."""

from __future__ import annotations

import secrets

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from gateway.auth import AuthConfigError, LocalKeys, OidcVerifier, made_once
from gateway.live import Hub
from gateway.schema.context import Services
from gateway.web.pages import needs, oidc, partners, partnerships, practices, signin
from gateway.web.pages.graphql import SignInAgain, Unanswered
from gateway.web.pages.render import LANGUAGE_COOKIE, LANGUAGES, page
from gateway.web.pages.session import BadForm
from pspx.settings import Settings

SESSION_COOKIE = "pspx_session"


async def start(request: Request) -> Response:
    return page(request, "start.html")


async def choose_language(request: Request) -> Response:
    chosen = request.query_params.get("lang", "en")
    response = RedirectResponse(signin.local(request.query_params.get("next")), status_code=303)
    if chosen in LANGUAGES:
        response.set_cookie(LANGUAGE_COOKIE, chosen, max_age=365 * 86400, samesite="lax")
    return response


async def not_found(request: Request, exc: Exception) -> Response:
    return page(request, "not_found.html", status=404)


async def sign_in_again(request: Request, exc: Exception) -> Response:
    request.session.clear()
    return RedirectResponse(f"/sign-in?next={request.url.path}", status_code=303)


async def bad_form(request: Request, exc: Exception) -> Response:
    return page(request, "problem.html", status=400, message=str(exc))


async def unanswered(request: Request, exc: Exception) -> Response:
    codes = {(e.get("extensions") or {}).get("code") for e in getattr(exc, "errors", [])}
    if "UNAUTHENTICATED" in codes:
        return RedirectResponse(f"/sign-in?next={request.url.path}", status_code=303)
    if "FORBIDDEN" in codes:
        return page(request, "problem.html", status=403, message=str(exc))
    if "SERVICE_UNAVAILABLE" in codes:
        return page(request, "problem.html", status=503, message=str(exc))
    return page(request, "problem.html", status=500, message=None)


def session_secret(settings: Settings) -> str:
    if settings.session_secret:
        return settings.session_secret
    if settings.oidc_issuer:
        # In production every gateway replica must sign sessions with the same key: one made
        # quietly under each replica's data directory would sign people out between them.
        raise AuthConfigError(
            "PSPX_OIDC_ISSUER is set but PSPX_SESSION_SECRET is not: set it to a long random "
            "value shared by every gateway replica"
        )
    path = settings.data_dir / "gateway" / "session-secret"
    return made_once(path, lambda: secrets.token_urlsafe(48).encode()).decode()


def site(services: Services, hub: Hub, settings: Settings) -> Starlette:
    app = Starlette(
        routes=[
            Route("/", start),
            Route("/language", choose_language),
            Route("/sign-in", signin.sign_in_page, methods=["GET"]),
            Route("/sign-in", signin.sign_in, methods=["POST"]),
            Route("/sign-in/provider", oidc.start),
            Route("/sign-in/callback", oidc.callback),
            Route("/sign-out", signin.sign_out, methods=["POST"]),
            Route("/partners", partners.find_partners),
            Route("/organisations/{org_id}", partners.organisation),
            Route("/organisations/{org_id}/edit", partners.edit_organisation, methods=["GET"]),
            Route("/organisations/{org_id}/edit", partners.update_organisation, methods=["POST"]),
            Route("/needs", needs.needs),
            Route("/needs/new", needs.new_need, methods=["GET"]),
            Route("/needs/new", needs.post_need, methods=["POST"]),
            Route("/needs/fits/live", needs.fits_live),
            Route("/needs/{need_id}", needs.need),
            Route("/needs/{need_id}/live", needs.need_live),
            Route("/needs/{need_id}/partnerships", needs.propose, methods=["POST"]),
            Route("/practices", practices.browse),
            Route("/practices/new", practices.new_practice, methods=["GET"]),
            Route("/practices/new", practices.save_practice, methods=["POST"]),
            Route("/practices/{practice_id}", practices.practice, methods=["GET"]),
            Route("/practices/{practice_id}/edit", practices.edit_practice, methods=["GET"]),
            Route("/practices/{practice_id}/edit", practices.save_practice, methods=["POST"]),
            Route("/practices/{practice_id}/publish", practices.publish, methods=["POST"]),
            Route("/practices/{practice_id}/endorsement", practices.endorse, methods=["POST"]),
            Route("/practices/{practice_id}/comments", practices.comment, methods=["POST"]),
            Route("/practices/{practice_id}/flags", practices.flag, methods=["POST"]),
            Route("/moderation", practices.moderation),
            Route("/moderation/hide", practices.hide, methods=["POST"]),
            Route("/partnerships", partnerships.board),
            Route("/partnerships/{partnership_id}", partnerships.partnership, methods=["GET"]),
            Route("/partnerships/{partnership_id}/stage", partnerships.move, methods=["POST"]),
            Route(
                "/partnerships/{partnership_id}/route-check",
                partnerships.recheck,
                methods=["POST"],
            ),
            Route(
                "/partnerships/{partnership_id}/contributions",
                partnerships.contribute,
                methods=["POST"],
            ),
            Route(
                "/partnerships/{partnership_id}/outcomes",
                partnerships.record_outcomes,
                methods=["POST"],
            ),
        ],
        middleware=[
            Middleware(
                SessionMiddleware,
                secret_key=session_secret(settings),
                session_cookie=SESSION_COOKIE,
                max_age=settings.token_ttl_s,
                same_site="lax",
                https_only=settings.secure_cookies,
            )
        ],
        exception_handlers={
            404: not_found,
            SignInAgain: sign_in_again,
            BadForm: bad_form,
            Unanswered: unanswered,
        },
    )
    app.state.services = services
    app.state.hub = hub
    # The demo sign-in exists only where the gateway signs its own tokens; the provider's,
    # where the gateway has a client id there.
    app.state.local_keys = None if settings.oidc_issuer else LocalKeys(settings)
    verifier = services.verifier
    app.state.provider = (
        oidc.Provider(settings, verifier)
        if isinstance(verifier, OidcVerifier) and settings.oidc_client_id
        else None
    )
    app.state.public_url = settings.public_url
    return app
