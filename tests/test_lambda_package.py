"""The real-time alert as deployed: deploy/README.md's build step makes dist/lambda.zip, which
runs in a fresh virtual environment holding boto3 alone (what the Lambda Python runtime has)
against the local Chatwork API, on EventBridge events, SNS-wrapped events and multi-record SNS
batches."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from audit_toolkit import alerts
from audit_toolkit.chatwork.share import outgoing
from audit_toolkit.settings import Settings
from aws_events import eventbridge, sns
from fake_chatwork import TOKEN, api, clock  # noqa: F401 (api, clock: fixtures)
from real_data import cloudtrail_record, elastic_lines

ROOT = Path(__file__).resolve().parents[1]
HEAVY = (
    "pandas",
    "numpy",
    "pyarrow",
    "msgspec",
    "isal",
    "duckdb",
    "sqlglot",
    "requests",
    "tenacity",
)
HARNESS = """
import importlib, json, sys
sys.path.insert(0, sys.argv[1])  # as Lambda puts /var/task first
module, _, name = sys.argv[2].rpartition(".")
handler = getattr(importlib.import_module(module), name)
results = [handler(event, None) for event in json.load(open(sys.argv[3]))]
heavy = sorted(m for m in sys.modules if m.split(".")[0] in HEAVY)
print(json.dumps({"results": results, "heavy": heavy}))
"""


def readme_build_step() -> str:
    """The build command exactly as deploy/README.md writes it (step 2's first code span)."""
    text = (ROOT / "deploy" / "README.md").read_text()
    step = re.search(r"^2\. .*?`([^`]+)`", text, re.M | re.S)
    assert step, "deploy/README.md has no step 2 with a command"
    return step.group(1)


@pytest.fixture(scope="module")
def package():
    command = readme_build_step()
    assert command == "make lambda"
    done = subprocess.run(command.split(), cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return ROOT / "dist" / "lambda.zip"


@pytest.fixture(scope="module")
def runtime(tmp_path_factory):
    """A fresh virtual environment with boto3 and its own dependencies only."""
    venv = tmp_path_factory.mktemp("lambda-runtime") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    pip = [
        str(python),
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "-c",
        str(ROOT / "constraints.txt"),
        "boto3",
    ]
    done = subprocess.run(pip, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return python


def handler_name() -> str:
    template = (ROOT / "deploy" / "template.yaml").read_text()
    return re.search(r"^\s+Handler: (\S+)$", template, re.M).group(1)


def test_the_zip_holds_the_package_sources_and_nothing_compiled(package):
    names = zipfile.ZipFile(package).namelist()
    assert "audit_toolkit/alerts.py" in names and "audit_toolkit/chatwork/client.py" in names
    assert all(n.startswith("audit_toolkit/") and n.endswith((".py", "py.typed")) for n in names)
    again = ROOT / "dist" / "again.zip"
    subprocess.run(
        [sys.executable, "deploy/build_lambda.py", "dist/again.zip"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    assert again.read_bytes() == package.read_bytes()  # reproducible: one commit, one SHA-256
    again.unlink()


def test_the_handler_runs_from_the_zip_beside_boto3_alone(package, runtime, api, tmp_path):
    task = tmp_path / "task"
    zipfile.ZipFile(package).extractall(task)
    ssh_open = eventbridge(cloudtrail_record("AuthorizeSecurityGroupIngress", '"fromPort": 22'))
    subscribe = eventbridge(elastic_lines("cloudtrail/test-subscribe-json.log")[0])
    batch = [
        eventbridge(cloudtrail_record("AuthorizeSecurityGroupIngress", '"fromPort": 443')),
        eventbridge(cloudtrail_record("RevokeSecurityGroupIngress")),
        eventbridge(elastic_lines("guardduty/test-guardduty.log")[1], "GuardDuty Finding"),
        eventbridge(elastic_lines("cloudtrail/test-delete-detector-json.log")[0]),
    ]
    invocations = [
        ssh_open,
        sns(subscribe),
        sns(*batch),
        sns(ssh_open, *batch),
    ]  # the last: all redelivered
    events = tmp_path / "events.json"
    events.write_text(json.dumps(invocations))
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "CHATWORK_ROOM_ID": "42",
        "CHATWORK_API_TOKEN": TOKEN,
        "CHATWORK_API_BASE": api.base,
        "ALERT_OUTBOX": str(tmp_path / "o.sqlite"),
        "ALERT_INCLUDE_SAMPLES": "1",
        "AUDIT_TOOLKIT_DISPLAY_TZ": "Asia/Tokyo",
    }
    harness = HARNESS.replace("HEAVY", repr(HEAVY))
    done = subprocess.run(
        [str(runtime), "-I", "-c", harness, str(task), handler_name(), str(events)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["heavy"] == []
    assert out["results"] == [
        {"posted": 1, "already_posted": 0},
        {"posted": 1, "already_posted": 0},
        {"posted": 4, "already_posted": 0},
        {"posted": 0, "already_posted": 5},
    ]
    # Exactly the messages the package renders in-process for the same events, in order.
    settings = Settings(display_tz="Asia/Tokyo")
    expected = [
        o.body
        for e in [ssh_open, subscribe, *batch]
        for o in outgoing(alerts.boxes(e, settings, include_samples=True))
    ]
    assert api.bodies() == expected and len(expected) == 6
    assert TOKEN not in done.stdout + done.stderr
