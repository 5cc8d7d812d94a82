"""Error classes. Transient errors may succeed on retry; terminal ones need a person.

Every message names the center and the object and says what to do next.
"""

from __future__ import annotations


class IvorisError(Exception):
    """Base class; `center_id` is None for errors that are not about one center."""

    transient = False

    def __init__(self, message: str, *, center_id: str | None = None):
        super().__init__(message)
        self.center_id = center_id
        self.message = message

    def __str__(self) -> str:
        return f"{self.center_id}: {self.message}" if self.center_id else self.message


class ConfigError(IvorisError):
    """config/centers.yml, canonical.yml or a mapping file is invalid."""


class UnsafeIdentifierError(IvorisError):
    """A name from a catalog or config is not safe to put into SQL."""


class SourceUnavailableError(IvorisError):
    """A center cannot be opened (missing or corrupt file, unreachable server, bad credentials)."""


class TransientSourceError(IvorisError):
    """Timeout, deadlock, dropped connection: worth retrying with backoff."""

    transient = True


class MappingNotApprovedError(IvorisError):
    """The center has no reviewed mapping (or it was edited after approval)."""


class MappingProblemError(IvorisError):
    """The mapping is ambiguous or incomplete; approval is refused."""


class SchemaDriftError(IvorisError):
    """The live schema no longer matches the approved mapping."""


class WarehouseBusyError(IvorisError):
    """Another run holds the warehouse lock."""
