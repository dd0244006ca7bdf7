"""The web front end: pages rendered on the server, whose data all comes from the gateway's
own GraphQL schema with the signed-in user's token, so pages and API share one
authorisation path. Forms post and redirect; JavaScript only enhances."""

from gateway.web.pages.site import site

__all__ = ["site"]
