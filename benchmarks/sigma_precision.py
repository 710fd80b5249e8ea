"""How precise SigmaHQ's CloudTrail rules are on the real CloudTrail of ../shared/data/real/ and the demo,
beside the catalogue (whose hits there are all attack calls: README, "False positives").

    python benchmarks/sigma_precision.py [--rules ../shared/data/real/sigmahq-rules-aws]

Per data set and rule: the rule's hits, and how many fall on an event the catalogue also hits. A hit
on an event no catalogue detection flags is a candidate false positive, counted here and read by hand
in the README.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from audit_toolkit import Investigation, sigma  # noqa: E402
from audit_toolkit.synthetic import generate  # noqa: E402

REAL = next((p for p in (HERE.parent.parent / "shared" / "data" / "real", Path("/work/shared/data/real"))
             if (p / "SOURCES.md").exists()), HERE.parent.parent / "shared" / "data" / "real")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=Path, default=REAL / "sigmahq-rules-aws")
    args = parser.parse_args()
    rules = sigma.load([args.rules])
    demo = Path(tempfile.mkdtemp()) / "demo"
    generate(demo, events=3000, seed=11)
    sets = {"invictus": REAL / "invictus-ir-aws_dataset" / "CloudTrail",
            "elastic": REAL / "elastic-integrations-aws" / "cloudtrail",
            "otrf": REAL / "otrf-security-datasets-aws", "demo (3,000 events, seed 11)": demo / "evidence"}
    for name, path in sets.items():
        inv = Investigation.from_evidence(path)
        found = inv.detect(sigma=rules)
        catalogue = set(found.loc[found["rule_author"].isna(), "event_id"])
        hits = found[found["rule_author"].notna()]
        outside = hits[~hits["event_id"].isin(catalogue)]
        print(f"\n{name}: {inv.span()['events']:,} events; {len(hits)} Sigma hits by "
              f"{hits['title'].nunique()} rules, {len(outside)} on events the catalogue does not hit")
        for title, rows in hits.groupby("title"):
            names = ", ".join(sorted(set(rows["event_name"])))
            print(f"  {len(rows):5d} {int((~rows['event_id'].isin(catalogue)).sum()):5d}  {title}: {names[:90]}")


if __name__ == "__main__":
    main()
