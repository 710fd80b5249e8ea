"""One root exception; every failure a user can act on is an AuditToolkitError."""


class AuditToolkitError(Exception):
    """Something went wrong that the user can fix; the message says what and how."""


class EvidenceError(AuditToolkitError):
    """The evidence could not be found or read at all (a single bad file is reported, not raised)."""


class QueryError(AuditToolkitError):
    """A query is malformed, was given wrong parameters, or failed in the engine."""


class ConfigError(AuditToolkitError):
    """A setting is missing or invalid."""


class OutputError(AuditToolkitError):
    """A result (report, chart, store, collected file) could not be written where the user asked."""
