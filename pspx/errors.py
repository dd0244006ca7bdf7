"""Errors the domain raises and the HTTP layer turns into clear answers."""


class DomainError(Exception):
    """A request the domain refuses; the message says why, ``field`` says where."""

    status = 422
    code = "rule_violated"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFound(DomainError):
    status = 404
    code = "not_found"


class AlreadyExists(DomainError):
    status = 409
    code = "already_exists"


class StaleVersion(DomainError):
    """An update that carried a version older than the stored one."""

    status = 409
    code = "stale_version"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"
