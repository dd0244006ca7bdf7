"""Errors the domain raises. Each has a stable ``code`` for clients; the HTTP edge
(``pspx.http``) chooses the status, so domain code knows nothing of HTTP."""


class DomainError(Exception):
    """A request the domain refuses; the message says why, ``field`` says where."""

    code = "rule_violated"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFound(DomainError):
    code = "not_found"


class AlreadyExists(DomainError):
    code = "already_exists"


class StaleVersion(DomainError):
    """An update that carried a version older than the stored one."""

    code = "stale_version"


class Forbidden(DomainError):
    code = "forbidden"


class Unavailable(DomainError):
    """Something this service depends on could not answer; its own data is unaffected."""

    code = "unavailable"
