"""audit_toolkit: forensics for AWS accounts from CloudTrail and GuardDuty."""

from .errors import AuditToolkitError
from .investigation import Investigation
from .settings import Settings

__all__ = ["AuditToolkitError", "Investigation", "Settings"]
