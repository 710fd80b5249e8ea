"""Build dist/lambda.zip: the audit_toolkit package's Python sources, nothing else.

The handler (audit_toolkit.alerts.handler) runs on the Lambda Python runtime as it is, with the
standard library and boto3: no dependency is bundled and no layer is needed. The zip is
reproducible (sorted entries, fixed times), so two builds of one commit give the same SHA-256.
Run with any Python 3.11 from the repository root: `make lambda`.
"""

from __future__ import annotations

import hashlib
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "audit_toolkit"
EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry


def build(out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    files = sorted(
        p
        for p in PACKAGE.rglob("*")
        if p.is_file()
        and (p.suffix == ".py" or p.name == "py.typed")
        and "__pycache__" not in p.parts
    )
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for path in files:
            entry = zipfile.ZipInfo(path.relative_to(ROOT).as_posix(), EPOCH)
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(entry, path.read_bytes())
    return out


if __name__ == "__main__":
    zip_path = build(ROOT / (sys.argv[1] if len(sys.argv) > 1 else "dist/lambda.zip"))
    digest = hashlib.sha256(zip_path.read_bytes()).hexdigest()
    print(f"{zip_path.relative_to(ROOT)}: {zip_path.stat().st_size:,} bytes, sha256 {digest}")
