"""audit_toolkit: forensics for AWS accounts from CloudTrail and GuardDuty.

`Investigation` is imported on first use: the real-time Lambda imports `audit_toolkit.alerts` with the
standard library and boto3 only, and must not pull in pandas, pyarrow or DuckDB through this file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import AuditToolkitError
from .settings import Settings

if TYPE_CHECKING:
    from .investigation import Investigation

__all__ = ["AuditToolkitError", "Investigation", "Settings"]


def __getattr__(name: str):
    if name == "Investigation":
        from .investigation import Investigation

        return Investigation
    raise AttributeError(f"module 'audit_toolkit' has no attribute {name!r}")
