"""Hostile AWS Config items and EC2 describe output never stop the investigation (issue 16).

Property-based, as tests/test_hostile_records.py is for CloudTrail: hypothesis copies the demo's
Config items and describe entries of security groups into an account of their own and puts a value
of any JSON type in one place of each copy, at any depth (beside one copy left good). Then the whole
pipeline runs: reader (read_state), state rules, windows of state and logs, reconciliation, the
report. Nothing may raise, every file's items must add up (read = used + rejected, the rest counted
as other resource types), the good copy must be kept, and every window, rule and disagreement of
the evidence without the copies must still be there.
"""

from __future__ import annotations

import functools
import gzip
import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit_toolkit import report
from audit_toolkit.investigation import Investigation
from audit_toolkit.synthetic import generate
from test_hostile_records import dumps, mutated

ACCOUNT = "999999999999"
CONFIG = (f"AWSLogs/{ACCOUNT}/Config/us-east-1/2026/11/3/ConfigHistory/{ACCOUNT}_Config_us-east-1_"
          f"ConfigHistory_AWS::EC2::SecurityGroup_20261103T060000Z_20261103T180000Z_1.json.gz")
DESCRIBE = f"AWSLogs/{ACCOUNT}/EC2/us-east-1/hostile-describe-security-groups.json"
GOOD_CONFIG, GOOD_DESCRIBE = "sg-0c00000000000000c", "sg-0d00000000000000d"
# Each example runs the whole pipeline: a few examples, each with several hostile copies.
FEW = settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="session")
def demo_state(tmp_path_factory) -> tuple[Path, str]:
    """The demo incident without noise (its CloudTrail, Config items and describe output), and
    when its describe output was taken."""
    demo = tmp_path_factory.mktemp("hostile-state-demo")
    generate(demo, events=0, seed=11)
    truth = json.loads((demo / "ground_truth.json").read_text(encoding="utf-8"))
    return demo / "evidence", truth["state_at"]


def answers(inv: Investigation) -> dict[str, set]:
    """What the state and logs say together, each as a set of row identities."""
    rules, windows, disagreements = inv.state(), inv.ssh_exposure(), inv.reconcile()
    return {
        "rules": {(r.account, r.group_id, r.direction, r.protocol, str(r.from_port), r.peer)
                  for r in rules.itertuples()},
        "windows": {(w.account, w.group_id, w.cidr, str(w.opened_at), str(w.closed_at))
                    for w in windows.itertuples()},
        "reconcile": {tuple(str(v) for v in r) for r in disagreements.itertuples(index=False)},
    }


@pytest.fixture(scope="session")
def base_answers(demo_state) -> dict[str, set]:
    evidence, state_at = demo_state
    found = answers(Investigation.from_evidence(evidence, workers=1, state_at=state_at))
    assert found["windows"] and found["rules"] and found["reconcile"]
    return found


@functools.cache
def base_others(evidence: Path) -> int:
    """Items of other resource types in the demo's own state files."""
    from audit_toolkit.evidence.layout import discover_state
    from audit_toolkit.evidence.state import read_state

    return sum(read_state(discover_state(evidence), "2026-11-04T23:30:00Z")[1].other_types.values())


def _config_items(evidence: Path) -> list[dict]:
    return [item for path in sorted(evidence.rglob("*ConfigHistory*.json.gz"))
            for item in json.loads(gzip.decompress(path.read_bytes()))["configurationItems"]
            if item.get("configuration")]


def _describe_groups(evidence: Path) -> list[dict]:
    return json.loads((evidence / "ec2" / "describe-security-groups.json").read_text())["SecurityGroups"]


def _moved(item: dict, group: str) -> dict:
    """A template placed in the hostile account, as group `group`."""
    text = json.dumps(item)
    for old in {item.get("resourceId"), item.get("GroupId")} - {None}:
        text = text.replace(old, group)
    for old in {item.get("awsAccountId"), item.get("OwnerId")} - {None}:
        text = text.replace(old, ACCOUNT)
    return json.loads(text.replace("eu-west-1", "us-east-1"))


@st.composite
def hostile(draw, templates: list[dict]) -> list[dict]:
    chosen = draw(st.lists(st.sampled_from(templates), min_size=1, max_size=5))
    return [draw(mutated(_moved(t, f"sg-0e{i:015d}"), inside=True)) for i, t in enumerate(chosen)]


def _open_ssh(template: dict, group: str) -> dict:
    """A good copy of a template that holds port 22 open to the internet."""
    return _moved(template, group)


@FEW
@given(data=st.data())
def test_hostile_state_never_stops_the_pipeline_nor_hides_another(
        demo_state, base_answers, tmp_path_factory, data):
    evidence, state_at = demo_state
    items = [t for t in _config_items(evidence) if "0.0.0.0/0" in json.dumps(t)]
    groups = [g for g in _describe_groups(evidence) if "0.0.0.0/0" in json.dumps(g)]
    config_copies = data.draw(hostile(items), label="config")
    describe_copies = data.draw(hostile(groups), label="describe")
    good_item, good_group = _open_ssh(items[0], GOOD_CONFIG), _open_ssh(groups[0], GOOD_DESCRIBE)

    folder = tmp_path_factory.mktemp("hostile-state") / "evidence"
    shutil.copytree(evidence, folder)
    (folder / CONFIG).parent.mkdir(parents=True)
    config = {"fileVersion": "1.0", "configurationItems": [*config_copies, good_item]}
    (folder / CONFIG).write_bytes(gzip.compress(dumps(config)))
    (folder / DESCRIBE).parent.mkdir(parents=True)
    (folder / DESCRIBE).write_bytes(dumps({"SecurityGroups": [good_group, *describe_copies]}))

    inv = Investigation.from_evidence(folder, workers=1, state_at=state_at)
    found = answers(inv)
    built = report.build(inv)
    assert built.parts

    state = inv.state_intake
    for f in state.files:
        assert f.read == f.used + f.rejected, f.path
    by_name = {Path(f.path).name: f for f in state.files}
    config_file, describe_file = by_name[Path(CONFIG).name], by_name[Path(DESCRIBE).name]
    assert config_file.error is None and describe_file.error is None
    # every item is counted once: read (used or rejected with a reason), or of another type
    others = sum(state.other_types.values()) - base_others(evidence)
    assert config_file.read + others == len(config["configurationItems"])
    assert describe_file.read == len(describe_copies) + 1
    assert all(reason for reason in config_file.rejections + describe_file.rejections)

    kept = {(r[0], r[1]) for r in found["rules"]}
    assert {(ACCOUNT, GOOD_CONFIG), (ACCOUNT, GOOD_DESCRIBE)} <= kept
    assert {w[1] for w in found["windows"] if w[0] == ACCOUNT} >= {GOOD_CONFIG, GOOD_DESCRIBE}
    for kind, rows in base_answers.items():
        assert rows <= found[kind], f"{kind} lost: {sorted(rows - found[kind])[:3]}"


@pytest.mark.parametrize("bad, reason", [
    ('"configurationItemStatus": NaN', "not JSON: "),
    ('"configuration": ' + "[" * 10_000 + "]" * 10_000, "nested deeper than the decoder follows"),
    ('"configurationItemStatus": ["OK"]', "unknown configurationItemStatus"),
])
def test_an_item_that_cannot_be_decoded_costs_only_itself(demo_state, tmp_path, bad, reason):
    from audit_toolkit.evidence.state import read_state

    evidence, state_at = demo_state
    template = _config_items(evidence)[0]
    items = [json.dumps(_moved(template, f"sg-0f{i:015d}")) for i in range(3)]
    items[1] = items[1].replace('"configurationItemStatus": "OK"', bad)
    config = tmp_path / CONFIG
    config.parent.mkdir(parents=True)
    config.write_bytes(gzip.compress(b'{"fileVersion": "1.0", "configurationItems": [%s]}'
                                     % ", ".join(items).encode()))
    group = json.dumps(_moved(_describe_groups(evidence)[0], "sg-0a00000000000000a"))
    describe = tmp_path / DESCRIBE
    describe.parent.mkdir(parents=True)
    describe.write_text('{"SecurityGroups": [%s, {"GroupId": NaN}]}' % group)
    table, report = read_state([config, describe], state_at, tmp_path)
    config_file, describe_file = report.files
    assert (config_file.error, config_file.read, config_file.used, config_file.rejected) == (None, 3, 2, 1)
    assert config_file.rejections[0].startswith(f"record 1: {reason}")
    assert (describe_file.error, describe_file.read, describe_file.used) == (None, 2, 1)
    assert describe_file.rejections[0].startswith("record 1: not JSON: ")
    ids = [i["resourceid"] for row in table.to_pylist() for i in row["configurationitems"]]
    assert ids == ["sg-0f000000000000000", "sg-0f000000000000002", "sg-0a00000000000000a"]
