"""Where evidence comes from: the S3 layout on disk, readers, and the intake report.

The names below are imported on first use: the readers need msgspec, pyarrow and isal, and the
real-time Lambda imports `evidence.guardduty_finding` with the standard library only.
"""

from __future__ import annotations

import importlib

_WHERE = {"discover_files": "layout", "FileReport": "reader", "IntakeReport": "reader",
          "read_cloudtrail_file": "reader"}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'audit_toolkit.evidence' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
