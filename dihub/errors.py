"""Error classes. Each carries the exit code the CLI uses for it.

Exit codes (documented in README): 0 ok, 1 failure, 2 usage or config error,
75 temporary (lease held, rate limited, upstream down: cron retries later).
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_TEMPFAIL = 75


class DihubError(Exception):
    """Base class: `str(err)` is the message a person sees; `hint` says what to do."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


class ConfigError(DihubError):
    """The config file is missing, unparsable or invalid."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None,
                 key: str | None = None, hint: str | None = None):
        where = path or "<config>"
        if line is not None:
            where = f"{where}:{line}"
        if key:
            where = f"{where}: {key}"
        super().__init__(f"{where}: {message}", hint=hint)
        self.path, self.line, self.key, self.detail = path, line, key, message


class UsageError(DihubError):
    """The command line asks for something that does not exist (source, stream, entity)."""

    exit_code = EXIT_USAGE


class TemporaryError(DihubError):
    """Something that will likely succeed later; cron should retry (exit 75)."""

    exit_code = EXIT_TEMPFAIL


class LeaseHeld(TemporaryError):
    def __init__(self, what: str, holder: str, until: str):
        super().__init__(
            f"{what} is being synced by another run ({holder}, lease until {until})",
            hint="Overlapping cron runs are expected; this one exits 75 and the next will "
                 "continue where the other stopped.",
        )
        self.holder, self.until = holder, until


class RetriableError(TemporaryError):
    """A transient upstream failure (5xx, dropped connection, malformed page)."""


class RateLimited(TemporaryError):
    def __init__(self, message: str, *, reset_at: float | None = None, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.reset_at = reset_at


class UpstreamUnavailable(TemporaryError):
    """The circuit breaker for an upstream is open."""


class AuthError(DihubError):
    """Credentials missing, invalid or revoked. The hint says how to log in again."""


class FatalError(DihubError):
    """A non-retriable upstream or local failure."""


class PartitionSkipped(DihubError):
    """One partition (a channel, a repository) cannot be read; the others go on.

    Recorded as a warning in the audit log; a run fails only if every partition did.
    """


class SkippableRecord(DihubError):
    """One record cannot be normalized; it is audited and skipped, the pass goes on."""
