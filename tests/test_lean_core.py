"""The code the real-time Lambda shares with the batch imports without pandas, pyarrow, msgspec
or isal."""

from __future__ import annotations

import subprocess
import sys

# The modules the Lambda uses: the normalizer, the decisions, the GuardDuty flattener, the chat.
SHARED = [
    "audit_toolkit",
    "audit_toolkit.alerts",
    "audit_toolkit.settings",
    "audit_toolkit.phrases",  # plural: how the evidence layer and the CLI count in words
    "audit_toolkit.analysis.security_groups",
    "audit_toolkit.analysis.exposure",
    "audit_toolkit.analysis.detections",
    "audit_toolkit.analysis.actors",
    "audit_toolkit.evidence.guardduty_finding",
    "audit_toolkit.chatwork",
    "audit_toolkit.chatwork.notation",
    "audit_toolkit.chatwork.messages",
    "audit_toolkit.chatwork.outbox",
]
HEAVY = ("pandas", "numpy", "pyarrow", "msgspec", "isal", "duckdb", "sqlglot", "matplotlib")
BLOCK = f"""
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {HEAVY!r}:
            raise ImportError('not in the Lambda runtime: ' + name)
sys.meta_path.insert(0, Block())
"""


def test_shared_modules_import_without_the_batch_dependencies():
    code = (
        BLOCK
        + "".join(f"import {m}\n" for m in SHARED)
        + "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        + repr(HEAVY)
        + "))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_blocker_would_catch_a_heavy_import():
    done = subprocess.run(
        [sys.executable, "-c", BLOCK + "import audit_toolkit.evidence.guardduty"],
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0 and "not in the Lambda runtime" in done.stderr
