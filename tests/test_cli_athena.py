"""The CLI's Athena and collection commands: `athena setup`, `--engine athena`, help on every command."""

from __future__ import annotations

import boto3
import click
import pytest
import sqlglot
from click.testing import CliRunner

from _aws import aws_env, moto_server  # noqa: F401
from audit_toolkit.cli import main

SETUP = ["athena", "setup", "--logs", "s3://trail-logs/org", "--account", "111122223333", "--account", "444455556666",
         "--region", "us-east-1", "--region", "ap-northeast-1", "--org-id", "o-abcdefghij"]


def test_setup_dry_run_prints_ddl_that_parses_and_touches_nothing():
    result = CliRunner().invoke(main, [*SETUP, "--dry-run"])
    assert result.exit_code == 0, result.output
    statements = [s for s in sqlglot.parse(result.output, read="athena") if s]
    assert [s.args["kind"] for s in statements] == ["DATABASE", "TABLE", "TABLE", "TABLE"]
    assert "projection.account.values'='111122223333,444455556666'" in statements[1].sql("athena")


def test_setup_runs_the_ddl_in_athena(aws_env, monkeypatch):
    monkeypatch.setenv("AUDIT_TOOLKIT_ATHENA_OUTPUT", "s3://athena-results/setup/")
    result = CliRunner().invoke(main, SETUP)
    assert result.exit_code == 0, result.output
    athena = boto3.client("athena")
    ids = athena.list_query_executions()["QueryExecutionIds"]
    sent = sorted(athena.get_query_execution(QueryExecutionId=i)["QueryExecution"]["Query"].splitlines()[0] for i in ids)
    assert sent == [
        "CREATE DATABASE IF NOT EXISTS `audit_toolkit`",
        "CREATE EXTERNAL TABLE IF NOT EXISTS `audit_toolkit`.`cloudtrail` (",
        "CREATE EXTERNAL TABLE IF NOT EXISTS `audit_toolkit`.`config` (",
        "CREATE EXTERNAL TABLE IF NOT EXISTS `audit_toolkit`.`guardduty` (",
    ]


def test_engine_athena_needs_no_evidence_and_duckdb_does(aws_env, monkeypatch):
    result = CliRunner().invoke(main, ["sg-changes"])
    assert result.exit_code == 2 and "give --evidence PATH (raw logs), --store DIR (made by `ingest`), or both; or --engine athena" in result.output
    monkeypatch.setenv("AUDIT_TOOLKIT_ATHENA_WORKGROUP", "missing-workgroup")
    result = CliRunner().invoke(main, ["sg-changes", "--engine", "athena", "--since", "2023-07-10"])
    assert result.exit_code == 1
    assert "WorkGroup does not exist" in result.output and "AUDIT_TOOLKIT_ATHENA_WORKGROUP" in result.output


@pytest.mark.parametrize("given", [["--evidence", "."], ["--store", "store"]])
def test_engine_athena_refuses_local_evidence_it_would_not_read(given):
    result = CliRunner().invoke(main, ["ssh-exposure", "--engine", "athena", *given])
    assert result.exit_code == 2
    assert "--evidence and --store are for the duckdb engine; --engine athena queries the logs in S3" in result.output


def _commands(group: click.Group, path=()):
    for name, command in group.commands.items():
        yield (*path, name)
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))


@pytest.mark.parametrize("path", list(_commands(main)))
def test_every_command_has_help(path):
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output
