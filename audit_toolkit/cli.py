"""The `audit-toolkit` command: thin wrappers over Investigation; library errors become clean messages."""

from __future__ import annotations

import functools
import re
import sys
from pathlib import Path

import click
import pandas as pd

from . import export, queries
from .analysis import actors, security_groups
from .analysis.state import unlogged_actors
from .errors import AuditToolkitError
from .investigation import Investigation
from .phrases import plural
from .settings import Settings

FORMATS = click.Choice(["table", "csv", "json"])
# Each terminal table: its columns in order, then those left out first when the terminal is narrow.
# A port range is one fact: tables show it in one `ports` cell (20-25, 22, all), never half of it.
SG_TABLE = ["event_time", "account", "region", "group_id", "action", "direction", "protocol", "ports",
            "peer", "actor", "source_ip", "tool", "error_code"]
SG_DROP = ("direction", "tool", "region", "account", "source_ip", "error_code", "protocol", "peer", "ports")
WINDOW_TABLE = ["account", "region", "group_id", "group_name", "protocol", "ports",
                "cidr", "reach", "opened_how", "opened_at", "opened_by", "closed_at", "closed_by",
                "close_reason", "still_open", "open_before_evidence", "ambiguous_order"]
# what was opened to whom, by whom, and whether it is still open are kept longest: still_open is never
# left out, and a window open before the evidence (or known only from state) says so in opened_by
WINDOW_DROP = ("open_before_evidence", "ambiguous_order", "region", "account", "group_name", "protocol",
               "opened_how", "close_reason", "reach", "closed_by", "closed_at", "cidr", "ports")
RECONCILE_TABLE = ["kind", "account", "region", "group_id", "group_name", "rule", "after", "before",
                   "coverage"]
# Columns that hold an actor: the table shows its short form (ops-admin / mallory), CSV and JSON the whole.
ACTOR_COLUMNS = ("actor", "opened_by", "closed_by")
# Exit status of `ssh-exposure --fail-on-open` when a window is still open (1 is an error, 2 a usage error),
# and when the evidence could not answer for the whole scope (a cron audit must not read that as closed).
STILL_OPEN_EXIT = 3
SLACK = pd.Timedelta(hours=1)  # a range that passes the evidence by more is said to be partly uncovered
UNANSWERED_EXIT = 4
ACCOUNT = re.compile(r"\d{12}")
REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
GROUP = re.compile(r"sg-[0-9A-Za-z]+")


def table_ports(frame: pd.DataFrame) -> pd.DataFrame:
    """For a table: from_port and to_port as one `ports` cell (`22`, `20-25`, `all`), so a narrow
    table never shows a range as its first port."""
    if frame.empty or "from_port" not in frame.columns:
        return frame

    def ports(protocol, low, high) -> str:
        if str(protocol) == "-1":
            return "all"
        if low is None or pd.isna(low):
            return ""
        high = None if high is None or pd.isna(high) else int(high)
        return security_groups.port_span(protocol, int(low), high)

    return frame.assign(ports=[ports(p, lo, hi) for p, lo, hi in
                               zip(frame["protocol"], frame["from_port"], frame["to_port"])])


def table_groups(frame: pd.DataFrame) -> pd.DataFrame:
    """For a table: from_port and to_port as one cell (table_ports), and a group that a call names
    by its name alone (a default VPC's: no id in the record) as `(name) web` in group_id, so a
    narrow table that leaves group_name out still says which group it was."""
    frame = table_ports(frame)
    if frame.empty or "group_name" not in frame.columns:
        return frame
    named = [(pd.isna(g) or not g) and isinstance(n, str) and bool(n)
             for g, n in zip(frame["group_id"], frame["group_name"])]
    return frame.assign(group_id=[f"(name) {n}" if by_name else g for g, n, by_name
                                  in zip(frame["group_id"], frame["group_name"], named)])


def table_windows(frame: pd.DataFrame) -> pd.DataFrame:
    """Windows for a table: one `ports` cell, and an opened_by and closed_by that say when no logged call
    opened the window (open before the evidence, or known from state) or closed it (`(not logged)`,
    `(group deleted, not logged)`), so an empty cell never reads as missing data."""
    if frame.empty:
        return frame
    return unlogged_actors(table_groups(frame))


def _clean_errors(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except AuditToolkitError as e:  # its message may quote evidence paths and keys: escaped
            raise click.ClickException(export.visible(str(e))) from e
        except OSError as e:  # a file system refusal no command foresaw: one line, with the path
            where = f"{e.filename}: " if e.filename else ""
            raise click.ClickException(export.visible(f"{where}{e.strerror or e}")) from e

    return wrapper


TZ_OPTION = click.option("--tz", help="Time zone of the times shown, e.g. Asia/Tokyo or JST (default UTC, or "
                                      "AUDIT_TOOLKIT_DISPLAY_TZ); JSON and CSV carry its offset.")


def _scope(fn=None, *, output: bool = True, exposure: bool = False):
    """The options every evidence command takes (`output`: it prints a table, CSV or JSON; `exposure`:
    its answer depends on the watched ports and what counts as the internet)."""
    if fn is None:
        return functools.partial(_scope, output=output, exposure=exposure)
    options = [
        click.option("--evidence", type=click.Path(exists=True, path_type=Path),
                     help="A folder of CloudTrail logs and GuardDuty findings (S3 layout or loose files) or a "
                          "single file of either (duckdb engine)."),
        click.option("--store", type=click.Path(file_okay=False, path_type=Path),
                     help="A columnar store made by `ingest`; with --evidence, new files are ingested first."),
        click.option("--engine", type=click.Choice(["duckdb", "athena"]), default="duckdb", show_default=True,
                     expose_value=False, callback=_remember("engine"),
                     help="duckdb reads --evidence/--store on this machine; athena queries the logs in S3 "
                          "(AUDIT_TOOLKIT_ATHENA_*)."),
        click.option("--since", help="Start of the time range, ISO 8601 (in the --tz zone if it has none), "
                                     "inclusive."),
        click.option("--until", help="End of the time range, ISO 8601 (in the --tz zone if it has none), "
                                     "exclusive."),
        click.option("--account", "accounts", multiple=True, help="Only this AWS account id (repeatable)."),
        click.option("--region", "regions", multiple=True, help="Only this AWS region (repeatable)."),
        TZ_OPTION,
        *([click.option("--format", "fmt", type=FORMATS, default="table", show_default=True,
                        help="Output format.")] if output else []),
        *([click.option("--port", "ports", type=int, multiple=True,
                        help="A port to watch for exposure (repeatable; default 22, or AUDIT_TOOLKIT_WATCHED_PORTS)."),
           click.option("--internet-prefix", type=click.IntRange(0, 128),
                        help="N: a group's CIDRs on a watched port are the internet when together "
                             "they let in 1/2^N of the public space (default 0: all of it).")]
          if exposure else []),
        click.option("--state-at", expose_value=False, callback=_remember("state_at"),
                     help="When the EC2 describe output in --evidence was taken (ISO 8601, in the --tz "
                          "zone if it has none): it carries no time."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return _clean_errors(_range_checked(fn))


def _range_checked(fn):
    """Times and places checked before any evidence is read (a typo or a reversed range fails at once,
    not after minutes of scanning); a time without a zone is read in the display zone, whose times
    the tables show, and said so on stderr."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        ctx = click.get_current_context()
        if kwargs.get("catalogue"):  # the list of detections: no evidence, no time, no place
            _refuse_with_catalogue(ctx)
        _usage(_zone_typed, kwargs.get("tz"))
        zone = Settings.load(display_tz=kwargs.get("tz")).display_tz
        given = {"since": kwargs["since"], "until": kwargs["until"],
                 "state-at": ctx.meta.get("audit_toolkit.state_at")}
        _usage(queries.scope, given["since"], given["until"])  # an error quotes what was typed
        _state_time(given["state-at"])
        language = Settings.load(display_tz=kwargs.get("tz")).language
        read = {name: _zoned(value, zone, name, language) for name, value in given.items()}
        kwargs["since"], kwargs["until"] = read["since"], read["until"]
        ctx.meta["audit_toolkit.state_at"] = read["state-at"]
        _usage(queries.scope, kwargs["since"], kwargs["until"])
        ctx.meta["audit_toolkit.range"] = (kwargs["since"], kwargs["until"])
        naive = [f"--{n} {read[n]}" for n in given if given[n] is not None and given[n] != read[n]]
        if naive and zone != "UTC":
            _say(f"times without a zone read in {zone}: {', '.join(naive)}")
        for account in kwargs.get("accounts", ()):
            if not ACCOUNT.fullmatch(account):
                raise click.BadParameter(f"{account!r} is no AWS account id (12 digits)", param_hint="--account")
        for region in kwargs.get("regions", ()):
            if not REGION.fullmatch(region):
                raise click.BadParameter(f"{region!r} is no AWS region name (such as ap-northeast-1)",
                                         param_hint="--region")
        if kwargs.get("from_state") and not (kwargs["since"] and kwargs.get("accounts") and kwargs.get("regions")):
            raise click.UsageError("--from-state needs --since, --account and --region: the state at --since "
                                   "must cover the place whose logs are skipped")
        return fn(*args, **kwargs)

    return wrapper


def _usage(check, *args):
    """`check(*args)`, its refusal of what was typed a usage error (exit 2 with the usage line, as click's
    own option errors), not a failed run (exit 1)."""
    try:
        return check(*args)
    except AuditToolkitError as e:
        raise click.UsageError(export.visible(str(e))) from None


def _zone_typed(tz: str | None) -> None:
    """--tz checked alone: a bad AUDIT_TOOLKIT_DISPLAY_TZ or other setting stays a failed run."""
    from .settings import zone_name

    if tz is not None:
        zone_name(tz)


def _refuse_with_catalogue(ctx: click.Context) -> None:
    """--catalogue lists the detections (--only and --min-severity filter the list): any option that
    reads or scopes evidence, or zones times, means nothing there and is refused, not ignored."""
    for param in ctx.command.params:
        if param.name in ("catalogue", "only", "min_severity", "fmt", "help"):
            continue
        source = ctx.get_parameter_source(param.name)
        if source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP"):
            raise click.UsageError(f"{param.opts[0]} has no meaning with --catalogue", ctx)


def _zoned(value: str | None, zone: str, name: str = "since", language: str = "en") -> str | None:
    """An ISO 8601 time given without a zone, in `zone` (with its offset); any other as given (one
    that is no time is refused by queries.utc_iso, naming its option). A local time the zone skips
    (a DST gap) is refused; one it has twice (a DST overlap) is the first, and stderr says which."""
    from datetime import datetime, timezone
    from zoneinfo import ZoneInfo

    from .phrases import words

    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        return value
    if when.tzinfo is not None:
        return value
    first, second = (when.replace(tzinfo=ZoneInfo(zone), fold=f) for f in (0, 1))
    back = first.astimezone(timezone.utc).astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    if back != when:  # the clocks jumped over it
        raise click.BadParameter(words(language, "cli.time_skipped", when=value, zone=zone), param_hint=f"--{name}")
    if first.utcoffset() != second.utcoffset():
        _say(words(language, "cli.time_twice", when=value, zone=zone, taken=first.isoformat(),
                   other=second.isoformat()))
    return first.isoformat()


def _absent(inv: Investigation, since, until, accounts, regions) -> list[str]:
    """The --account and --region values that hold no event in the range: an empty answer for them
    says nothing about the place, and a cron audit must not read it as 'nothing open'."""
    return ([f"account {a}" for a in accounts if not inv.span(since, until, a)["events"]]
            + [f"region {r}" for r in regions if not inv.span(since, until, None, r)["events"]])


def _empty(reason: str, absent: list[str]) -> str:
    return f"{', '.join(absent)}: no event in the evidence in the range" if absent else reason


def _remember(name: str):
    """Kept in the context, not passed to the command: every command using _scope gets the option."""
    def callback(ctx: click.Context, _param, value):
        ctx.meta[f"audit_toolkit.{name}"] = value
        return value

    return callback



def _settings(ports: tuple[int, ...] = (), internet_prefix: int | None = None, tz: str | None = None,
              **more) -> Settings:
    # Settings are checked before any evidence is read: a bad --port or --tz fails at once.
    return Settings.load(watched_ports=tuple(ports) or None, internet_prefix_len=internet_prefix, display_tz=tz,
                         **more)


def _open(evidence: Path | None, store: Path | None, settings: Settings,
          only: frozenset[str] | None = None, out: Path | None = None) -> Investigation:
    # A report folder (`out`) that cannot be made or lies among the evidence fails before any evidence is read.
    if out is not None:
        from .paths import refuse_overlap
        from .report import prepare

        if evidence is not None:
            refuse_overlap(out, evidence, "the report folder", holding_ok=evidence.is_dir())
            # above the evidence is allowed, but the charts folder the report writes into never holds it
            refuse_overlap(out / "charts", evidence, "the report's charts folder")
        prepare(out)
    if click.get_current_context().meta.get("audit_toolkit.engine") == "athena":
        if evidence is not None or store is not None:  # not read: saying nothing would answer another question
            raise click.UsageError("--evidence and --store are for the duckdb engine; --engine athena queries "
                                   "the logs in S3")
        return Investigation.on_athena(settings=settings, on_report=lambda r: _say(r.summary()))
    if evidence is None and store is None:
        raise click.UsageError("give --evidence PATH (raw logs), --store DIR (made by `ingest`), or both; "
                               "or --engine athena")
    progress = sys.stderr.isatty()
    if store is None:
        state_at = click.get_current_context().meta.get("audit_toolkit.state_at")
        inv = Investigation.from_evidence(evidence, settings, only=only, state_at=state_at, progress=progress)
    else:
        skipped = []
        if evidence is not None:
            from .evidence.store import ingest_evidence

            state_at = click.get_current_context().meta.get("audit_toolkit.state_at")
            skipped = ingest_evidence(evidence, store, progress=sys.stderr.isatty(),
                                      max_file_bytes=settings.max_file_bytes,
                                      state_at=_state_time(state_at))[0].skipped
            _ingest_flow_logs(evidence, store, settings.max_file_bytes)
        inv = Investigation.from_store(store, settings)
        inv.intake.skipped = skipped  # the store keeps what it read; what it did not, this run says
    _report_intake(inv)
    _report_outside(inv)
    click.get_current_context().call_on_close(
        lambda: _report_unusable(inv.intake, inv.state_intake))
    return inv


def _utc(t: pd.Timestamp) -> pd.Timestamp:
    return t.tz_localize("UTC") if t.tzinfo is None else t


def _report_outside(inv: Investigation) -> None:
    """A --since/--until range the evidence does not reach (2027 typed for 2026): said on stderr, so an
    empty answer is not read as a clean one; `ssh-exposure --fail-on-open` then cannot answer."""
    ctx = click.get_current_context()
    since, until = ctx.meta.get("audit_toolkit.range", (None, None))
    if since is None and until is None or ctx.meta.get("audit_toolkit.engine") == "athena":
        return  # on Athena the whole trail's span is a scan of every partition: not paid for a notice
    span = inv.span()
    first, last = span.get("first_event"), span.get("last_event")
    if not span.get("events") or first is None or pd.isna(first):
        return  # no event at all: said by the intake line
    asked = queries.scope(since, until)
    first, last = pd.Timestamp(first), pd.Timestamp(last)
    first, last = _utc(first), _utc(last)
    low = asked["since"] and pd.Timestamp(asked["since"])
    high = asked["until"] and pd.Timestamp(asked["until"])
    tz = Settings.load(display_tz=ctx.params.get("tz")).display_tz
    shown = lambda t: "…" if t is None else t.tz_convert(tz).strftime("%Y-%m-%d %H:%M")  # noqa: E731
    covers = f"the evidence covers {shown(first)} to {shown(last)} ({tz})"
    if (low is not None and low > last) or (high is not None and high <= first):
        ctx.meta["audit_toolkit.outside"] = True
        _say(f"{covers}; the range asked, {shown(low)} to {shown(high)}, lies outside it: an empty answer says "
             "nothing about that range")
        return
    # as the report's lead: an hour's slack, since events are instants and a trail is never continuous
    uncovered = [*([f"{shown(low)} to {shown(first)}"] if low is not None and first - low > SLACK else []),
                 *([f"{shown(last)} to {shown(high)}"] if high is not None and high - last > SLACK else [])]
    if uncovered:
        _say(f"{covers}; of the range asked, {' and '.join(uncovered)} {'is' if len(uncovered) == 1 else 'are'} "
             "not covered: nothing is known of that part")


def _ingest_flow_logs(evidence: Path, store: Path, max_file_bytes: int):
    from .engines.duckdb import DuckDBEngine
    from .evidence.layout import discover_flow_logs

    return DuckDBEngine().ingest_flow_logs(discover_flow_logs(evidence), store, max_file_bytes)


def _report_intake(inv: Investigation) -> None:
    """Say on stderr what was read and what could not be used, file by file."""
    intake = inv.intake
    _say(export.visible(f"{inv.source}: {intake.summary()}"))
    _report_problems(intake)
    if inv.findings_intake is not None and inv.findings_intake.files:
        _say(f"GuardDuty findings: {inv.findings_intake.summary()}")
        _report_problems(inv.findings_intake)
    if inv.state_intake is not None and inv.state_intake.files:
        _say(f"Security-group state: {inv.state_intake.summary()}")
        _report_problems(inv.state_intake)


def _report_unusable(intake, state_intake=None) -> None:
    """After the answer: the events and state rules the analysis could not measure, each with its
    reason (security_groups.normalize, state.windows): say what it risks."""
    for report, what in ((intake, "security-group call"),
                         (state_intake, "security-group state rule")):
        if report is not None and report.unusable:
            _say(f"{plural(len(report.unusable), what)} could not be read and may hide a window:")
            for reason in report.unusable:
                _say(export.visible(f"  {reason}"))


def _report_problems(intake) -> None:
    for f in intake.problems:
        damaged = [f.damaged] if f.damaged and f.damaged not in f.warnings else []
        reason = f.error or "; ".join(f.rejections + f.warnings + damaged)
        _say(export.visible(f"  {f.path}: read {f.read}, used {f.used}, rejected {f.rejected}: {reason}"))
    for path in intake.skipped:
        _say(export.visible(f"  skipped {path}"))


def _emit(frame, fmt: str, columns: list[str], settings: Settings, drop: tuple[str, ...] = (),
          empty: str | None = None, shape=None) -> None:
    """The answer on stdout; for a table (its frame reshaped by `shape`, if given, after identities are
    shortened), the zone of its times and any column left out on stderr."""
    tz = settings.display_tz
    if fmt != "table":  # a `*_phrase` column is the catalogue's codes for the report: its text is beside it
        frame = frame.drop(columns=[c for c in frame.columns if str(c).endswith("_phrase")])
    if fmt == "json":
        click.echo(export.to_json(frame, tz))
    elif fmt == "csv":  # CSV has no escapes: exact values for a pipe, visible ones for a terminal
        text = export.to_csv(frame, tz)
        if sys.stdout.isatty():
            text = "\r\n".join(map(export.visible, text.split("\r\n")))
        click.echo(text, nl=False, color=True)  # else click strips escape sequences from values
    elif frame.empty and empty:
        click.echo(f"(none: {export.visible(empty)})")
    else:
        shown = frame.assign(**{c: frame[c].map(actors.short) for c in ACTOR_COLUMNS if c in frame.columns})
        shown = shape(shown) if shape else shown
        table = export.to_table(shown, columns or None, export.terminal_width(), tz, drop)
        click.echo(table.text)
        if not frame.empty and any(c in frame.columns and str(frame[c].dtype).startswith("datetime")
                                   for c in columns or frame.columns):
            _say(f"times in {tz}")
        if table.dropped:
            _say(f"left out to fit the terminal: {', '.join(table.dropped)} (widen it, or use --format csv "
                 "or json for every column)")


def _say(text: str) -> None:
    """A line on stderr, wrapped between its words to the terminal's width, as the table is."""
    click.echo(export.fill(text, export.terminal_width(sys.stderr)), err=True)


def _bullets(sentences) -> None:
    """Sentences above a table, each a `- ` item wrapped to the terminal's width like the table."""
    width = export.terminal_width()
    click.echo("\n".join(export.fill(f"- {export.visible(s)}", width) for s in sentences) + "\n")


class OnceCommand(click.Command):
    """A command whose single-valued options may be given once: click keeps the last of two silently
    (`--principal mallory --principal alice` answered for alice alone); a repeatable option is a list."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        valued = {o: p for p in self.params if isinstance(p, click.Option) and not p.is_flag and not p.count
                  for o in p.opts}
        seen: dict[str, list[str]] = {}
        rest = iter(args)
        for arg in rest:
            if arg == "--":
                break
            name, equals, _ = arg.partition("=")
            option = valued.get(name)
            if option is None:
                continue
            if not equals:
                next(rest, None)  # its value, even one spelt like an option (`--principal --tz`)
            if not option.multiple:
                seen.setdefault(option.opts[-1], []).append(name)
        for option, given in seen.items():
            if len(given) > 1:
                raise click.UsageError(f"{option} given {len(given)} times: it takes one value", ctx)
        return super().parse_args(ctx, args)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="audit_toolkit")
def main() -> None:
    """Forensics for AWS accounts from CloudTrail logs and GuardDuty findings: who changed security groups, who
    opened SSH and when, detections of tampering, silent hours, and the findings that came in through an open port."""


main.command_class = OnceCommand


FROM_STATE = click.option(
    "--from-state", is_flag=True,
    help="Replay from the AWS Config state at --since (needs --account and --region) and read the "
         "logs from --since only: on Athena, only the days asked for are scanned.")


@main.command("sg-changes")
@_scope
@FROM_STATE
def sg_changes(evidence, store, since, until, accounts, regions, tz, fmt, from_state):
    """Every security-group change: when, where, what, by whom, from where, with what tool."""
    settings = _settings(tz=tz)
    inv = _open(evidence, store, settings, only=security_groups.EVENT_NAMES)
    found = inv.sg_changes(since, until, accounts, regions, from_state=from_state)
    absent = _absent(inv, since, until, accounts, regions) if found.empty else []
    if fmt == "table" and len(found):  # error_code is left out early: a refused call must not read as done
        found = found.assign(action=[a if pd.isna(e) else f"{a} (refused)"
                                     for a, e in zip(found["action"], found["error_code"])])
    _emit(found, fmt, SG_TABLE, settings, SG_DROP, empty=_empty("no security-group call in the scope", absent),
          shape=table_groups)


@main.command("ssh-exposure")
@_scope(exposure=True)
@click.option("--fail-on-open", is_flag=True,
              help=f"Exit with status {STILL_OPEN_EXIT} when a window is still open (for a cron audit).")
@FROM_STATE
def ssh_exposure(evidence, store, since, until, accounts, regions, tz, fmt, ports, internet_prefix, fail_on_open,
                 from_state):
    """Every window in which a watched port (22 by default) was open to the whole internet."""
    settings = _settings(ports, internet_prefix, tz)
    inv = _open(evidence, store, settings, only=security_groups.EVENT_NAMES)
    found = inv.ssh_exposure(since, until, accounts, regions, from_state=from_state)
    ports = ", ".join(map(str, settings.watched_ports))
    absent = _absent(inv, since, until, accounts, regions)
    _emit(found, fmt, WINDOW_TABLE, settings, WINDOW_DROP,
          empty=_empty(f"no rule opened port {ports} to the internet in the scope", absent), shape=table_windows)
    still = int(found["still_open"].sum()) if len(found) else 0
    _say(f"{plural(len(found), 'window')}, {still} still open")
    outside = click.get_current_context().meta.get("audit_toolkit.outside")
    if fail_on_open and outside:  # the state at a time no event reaches is a guess, not evidence
        _say("the evidence cannot show what is open: the range asked lies outside it")
        sys.exit(UNANSWERED_EXIT)
    if fail_on_open and still:
        sys.exit(STILL_OPEN_EXIT)
    unanswered = [*absent, *(["no event read"] if not inv.intake.read else []),
                  *([plural(len(inv.intake.bad_files), "unreadable file")] if inv.intake.bad_files else []),
                  *([plural(len(inv.intake.damaged), "damaged file") + " read in part"]
                    if inv.intake.damaged else []),
                  *([plural(len(inv.intake.unusable), "security-group call") + " could not be read"]
                    if inv.intake.unusable else []),
                  *([plural(inv.intake.rejected, "record") + " rejected (any may be a security-group call)"]
                    if inv.intake.rejected else []),
                  *([plural(len(state.unusable), "security-group state rule") + " could not be read"]
                    if (state := inv.state_intake) is not None and state.unusable else [])]
    if fail_on_open and unanswered:
        _say(f"the evidence cannot show that nothing is open: {'; '.join(unanswered)}")
        sys.exit(UNANSWERED_EXIT)


@main.command()
@_scope
def reconcile(evidence, store, since, until, accounts, regions, tz, fmt):
    """Where security-group state (AWS Config, EC2 describe output) and the logs disagree: rules
    opened or closed with no logged call, groups deleted unlogged, Config items naming events the
    logs lack."""
    settings = _settings(tz=tz)
    inv = _open(evidence, store, settings)  # coverage reads the trail's own calls too
    found = inv.reconcile(until, accounts, regions)
    if since is not None and len(found):
        found = found[found["before"] >= pd.Timestamp(queries.scope(since)["since"])]
    _emit(found, fmt, RECONCILE_TABLE, settings, ("coverage", "region", "account", "group_name", "before"),
          empty="state and logs agree in the scope (or the evidence holds no state)")


ACTIVITY_TABLE = ["event_time", "account", "region", "event_source", "event_name", "target", "error_code",
                  "source_ip", "actor", "tool"]
# the actor is the one asked for: what each call acted on is kept longest
ACTIVITY_DROP = ("region", "account", "tool", "event_source", "error_code", "source_ip", "target")


@main.command()
@_scope
@click.option("--principal", required=True, help="An ARN, role ARN, access key id, user name or session name.")
def activity(evidence, store, since, until, accounts, regions, tz, fmt, principal):
    """One actor's whole activity, in time order."""
    if not principal.strip():  # it would match no one, after a scan of everything
        raise click.BadParameter("an empty value names no principal", param_hint="--principal")
    settings = _settings(tz=tz)
    inv = _open(evidence, store, settings)
    found = inv.activity(principal, since, until, accounts, regions)
    empty = None
    if found.empty:
        near = inv.principals_like(principal)
        empty = f"no event names the principal {principal!r}" + (
            f"; the nearest that exist: {', '.join(near)}" if near else "")
        anytime = inv.activity(principal, None, None, accounts, regions) if (since or until) else found
        if len(anytime):  # it exists, only not in the range: say when it acted
            first, last = (anytime["event_time"].min(), anytime["event_time"].max())
            at = lambda t: _utc(pd.Timestamp(t)).tz_convert(settings.display_tz).strftime("%Y-%m-%d %H:%M:%S")  # noqa: E731
            empty = (f"{principal!r} has {plural(len(anytime), 'event')}, none in the range; the first at "
                     f"{at(first)}, the last at {at(last)} ({settings.display_tz})")
    _emit(found, fmt, ACTIVITY_TABLE, settings, ACTIVITY_DROP, empty=empty)


DETECT_TABLE = ["event_time", "severity", "detection", "outcome", "account", "region", "event_name", "target",
                "detail", "actor", "source_ip", "error_code"]
# an attempt and a success of one detection differ only in `outcome`: never left out
DETECT_DROP = ("error_code", "region", "account", "event_name", "source_ip", "detail", "target")
COVERAGE_TABLE = ["kind", "account", "region", "start", "end", "hours", "ongoing", "trail", "actor"]


_min_severity = click.option(  # one parser for every command: findings take the number, detections the band
    "--min-severity", callback=lambda _c, _p, v: _severity_bound(v),
    help="Only detections / findings at least this severe: low, medium, high, critical, or a GuardDuty number "
         "(0-10; 7 is high).")


@main.command()
@_scope
@click.option("--only", multiple=True, help="Run only this detection id (repeatable; see --catalogue).")
@_min_severity
@click.option("--catalogue", is_flag=True,
              help="List the detections (id, severity, MITRE technique, events read) and exit.")
@click.option("--sigma", "sigma_paths", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="Sigma rules for CloudTrail (a .yml file or a folder of them, repeatable), run beside the "
                   "catalogue; a rule that cannot be compiled is listed on stderr with the reason.")
def detect(evidence, store, since, until, accounts, regions, tz, fmt, only, min_severity, catalogue, sigma_paths):
    """Run the detection catalogue (and Sigma rules): trail, GuardDuty and alert tampering, other ways in,
    identity; hits with their actors."""
    from .analysis.detections import catalogue_table, select

    settings = _settings(tz=tz)
    min_severity = min_severity and min_severity[1]  # the band's label
    chosen = _usage(select, only, min_severity)  # an unknown id fails here, before any evidence is read
    if not chosen and not catalogue and not sigma_paths:
        raise click.UsageError(f"no detection of {', '.join(only)} is at least {min_severity}: "
                               "these filters leave nothing to run")
    if catalogue:
        table = catalogue_table(settings.language)
        _emit(table[table["id"].isin([d.id for d in chosen])], fmt, ["id", "severity", "technique", "title", "events"],
              settings, ("events", "technique"))
        return
    from .sigma import ROWS_PER_RULE as sigma_limit, load

    rules = load(sigma_paths) if sigma_paths else None  # compiled before any evidence is read
    for path, reason in rules.refused if rules else ():
        _say(export.visible(f"Sigma rule not run: {path}: {reason}"))
    inv = _open(evidence, store, settings)
    found = inv.detect(since, until, accounts, regions, only, min_severity, sigma=rules)
    titles = {r.id: r.title for r in rules.rules} if rules else {}
    for rule, matched in found.attrs.get("sigma_capped", {}).items():
        said = (f"Sigma rule {titles[rule]!r} matched {matched:,} events: "
                f"its first {sigma_limit:,} are shown")
        _say(export.visible(said))
    runs = len(chosen) + (len(rules.rules) if rules else 0)
    _emit(found, fmt, DETECT_TABLE, settings, DETECT_DROP,
          empty=f"none of the {plural(runs, 'detection')} run found a hit in the scope")


@main.command()
@_scope
@click.option("--min-hours", type=click.IntRange(min=1), default=1, show_default=True,
              help="Report runs of at least this many hours with no event.")
def coverage(evidence, store, since, until, accounts, regions, tz, fmt, min_hours):
    """Where the evidence is silent: hours with no event per account and region, and logging stopped until
    restarted."""
    settings = _settings(tz=tz)
    inv = _open(evidence, store, settings)
    found = inv.coverage(since, until, accounts, regions, min_hours)
    _emit(found, fmt, COVERAGE_TABLE, settings, ("trail", "region", "account", "ongoing", "hours"),
          empty=f"no silence of {plural(min_hours, 'hour')} or more and no logging outage in the scope")


@main.command()
@click.option("--evidence", required=True, type=click.Path(exists=True, path_type=Path),
              help="A folder of CloudTrail logs and GuardDuty findings (S3 layout or loose files) or a single file of either.")
@click.option("--store", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The store folder; created if absent, else only files it does not hold are converted.")
@click.option("--progress/--no-progress", default=None, help="A progress bar of files and events (default: on a terminal).")
@click.option("--state-at", help="When the EC2 describe output in --evidence was taken (ISO 8601): "
                                 "it carries no time.")
@_clean_errors
def ingest(evidence: Path, store: Path, progress: bool | None, state_at: str | None) -> None:
    """Convert CloudTrail logs, GuardDuty findings, security-group state (AWS Config, EC2 describe
    output) and VPC flow logs once into a columnar store that every command can query with --store."""
    from .evidence.store import Store, ingest_evidence

    progress = sys.stderr.isatty() if progress is None else progress
    limit = Settings.load().max_file_bytes
    report, found, state = ingest_evidence(evidence, store, progress, limit, _state_time(state_at))
    flows = _ingest_flow_logs(evidence, store, limit)
    held = Store.open(store)
    click.echo(f"converted: {report.summary()}")
    _report_problems(report)
    click.echo(f"GuardDuty findings: {found.summary()}")
    _report_problems(found)
    click.echo(f"security-group state: {state.summary()}")
    _report_problems(state)
    click.echo(f"VPC flow logs: {plural(len(flows.files), 'new file')}, {plural(flows.read, 'record')} read, "
               f"{flows.used:,} used, {flows.rejected:,} rejected")
    _report_problems(flows)
    click.echo(export.visible(
        f"store {store}: {plural(len(held.sources), 'source file')}, {plural(held.events, 'event')}, "
        f"{plural(len(held.parts), 'part')}, {plural(len(held.findings), 'findings file')}, "
        f"{plural(len(held.state), 'state file')}"))


def _state_time(value: str | None) -> str | None:
    """--state-at as a UTC time (a bad one is a clean usage error, before anything is read)."""
    return _usage(queries.utc_iso, value, "--state-at")


FINDING_TABLE = ["severity", "severity_label", "type", "account", "region", "instance_id", "security_group_ids",
                 "remote_ip", "remote_country", "local_port", "first_seen", "last_seen", "count", "sample"]
# severity_label only names the band of the number beside it
FINDING_DROP = ("sample", "count", "region", "account", "severity_label", "security_group_ids", "remote_country",
                "local_port", "last_seen", "instance_id")
CORRELATION_TABLE = ["group_id", "opened_at", "closed_at", "finding_type", "severity", "instance_id", "remote_ip",
                     "local_port", "first_seen", "last_seen", "count"]
# the sentences above the table say every finding in full
CORRELATION_DROP = ("count", "closed_at", "instance_id", "local_port", "last_seen", "severity", "first_seen",
                    "remote_ip")
_types = click.option("--type", "types", multiple=True,
                      help="Only findings of this type (repeatable); a prefix ending in ':' or '/' takes a family, e.g. Recon:")
_from_api = click.option("--from-api", is_flag=True,
                         help="Also fetch findings from the GuardDuty API (every detector of --region or AWS_REGION; "
                              "AWS credentials from the standard chain). Alone, without --evidence/--store: findings only.")


def _open_findings(evidence, store, settings, from_api, since, regions, min_severity) -> Investigation:
    """The investigation, with the GuardDuty API's findings added when asked (each region asked for)."""
    athena = click.get_current_context().meta.get("audit_toolkit.engine") == "athena"
    if from_api and evidence is None and store is None and not athena:
        inv = Investigation.from_guardduty_api(settings, since=since, min_severity=min_severity,
                                               region=regions[0] if regions else None)
        regions = regions[1:]
    else:
        inv = _open(evidence, store, settings)
        if from_api and not regions:
            inv.add_findings_from_api(since, min_severity)
    for region in regions if from_api else ():
        inv.add_findings_from_api(since, min_severity, region=region)
    if from_api:
        _say(f"GuardDuty API: {inv.findings_intake.summary()}")
    return inv


def _no_type(inv: Investigation, types, since, until, accounts, regions, min_severity) -> str | None:
    """When --type matches no finding in the scope: say so, with how many there are and the nearest
    types present (a typo must not read as 'no brute force')."""
    import difflib

    if not types:
        return None
    held = inv.findings(since, until, accounts, regions, min_severity)
    present = sorted(set(held["type"].dropna().astype(str))) if len(held) else []
    asked = [t.casefold() for t in types]
    if any(p.casefold() == t or (t[-1:] in (":", "/") and p.casefold().startswith(t)) for p in present for t in asked):
        return None  # a type is there: the empty answer is the correlation's own
    folded = {p.casefold(): p for p in present}
    near = sorted({folded[m] for t in asked for m in difflib.get_close_matches(t, list(folded), n=3, cutoff=0.5)}
                  | {p for p in present for t in asked if p.casefold().startswith(t)})
    named = ", ".join(repr(t) for t in types)
    return (f"no finding of type {named} among the {plural(len(held), 'finding')} in the scope"
            + (f"; nearest: {', '.join(near)}" if near else ""))


@main.command()
@_scope
@_min_severity
@_types
@_from_api
def findings(evidence, store, since, until, accounts, regions, tz, fmt, min_severity, types, from_api):
    """GuardDuty findings (S3 export, get-findings JSON, EventBridge events, the API), one flat row each, most
    severe first."""
    settings = _settings(tz=tz)
    min_severity = min_severity and min_severity[0]  # the GuardDuty number
    inv = _open_findings(evidence, store, settings, from_api, since, regions, min_severity)
    found = inv.findings(since, until, accounts, regions, min_severity, types)
    _emit(found, fmt, FINDING_TABLE, settings, FINDING_DROP,
          empty=_no_type(inv, types, since, until, accounts, regions, min_severity)
          or "no GuardDuty finding in the scope" + ("" if inv.findings_intake and inv.findings_intake.files
                                                    else " (the evidence holds no GuardDuty file)"))


@main.command()
@_scope(exposure=True)
@_min_severity
@_types
@_from_api
def correlate(evidence, store, since, until, accounts, regions, tz, fmt, ports, internet_prefix, min_severity,
              types, from_api):
    """Which GuardDuty findings attacked an exposure window while it was open, each said in a sentence."""
    settings = _settings(ports, internet_prefix, tz)
    min_severity = min_severity and min_severity[0]
    inv = _open_findings(evidence, store, settings, from_api, since, regions, min_severity)
    found = inv.correlate(since, until, accounts, regions, min_severity, types)
    if fmt == "table" and len(found):
        _bullets(found["summary"])
    _emit(found, fmt, CORRELATION_TABLE, settings, CORRELATION_DROP,
          empty=_no_type(inv, types, since, until, accounts, regions, min_severity)
          or "no GuardDuty finding attacked an exposure window while it was open")


CONNECTION_TABLE = ["group_id", "opened_at", "closed_at", "kind", "source", "verdict", "known_as",
                    "finding_ids", "accepted", "rejected", "bytes_in", "bytes_out", "before_rejected",
                    "after_accepted", "after_rejected", "interfaces", "gap", "first_seen", "last_seen"]
CONNECTION_DROP = ("interfaces", "before_rejected", "after_rejected", "after_accepted", "bytes_out", "bytes_in",
                   "rejected", "accepted", "finding_ids", "gap", "last_seen", "first_seen", "closed_at", "kind",
                   "known_as", "opened_at")


@main.command()
@_scope(exposure=True)
@click.option("--group", help="Only the windows of this security group (sg-...).")
@click.option("--known-network", "known_networks", multiple=True,
              help="A CIDR of the organization's own (repeatable; default "
                   "AUDIT_TOOLKIT_KNOWN_NETWORKS).")
@click.option("--session-bytes", type=click.IntRange(min=0),
              help="An accepted connection that exchanged more bytes is a session (default 10000, "
                   "or AUDIT_TOOLKIT_SESSION_BYTES).")
def connections(evidence, store, since, until, accounts, regions, tz, fmt, ports, internet_prefix, group,
                known_networks, session_bytes):
    """Who came in through each exposure window, from the VPC flow logs: each public source, its
    verdict (session, accepted with no data, rejected only), the findings and actor tied to it, and
    coverage gaps."""
    if group is not None and not GROUP.fullmatch(group):  # a name or a typo would answer 'no window'
        raise click.BadParameter(f"{group!r} is no security group id (sg- and its id, such as "
                                 "sg-0123456789abcdef0)", param_hint="--group")
    settings = _settings(ports, internet_prefix, tz, known_networks=tuple(known_networks) or None,
                         session_bytes=session_bytes)
    inv = _open(evidence, store, settings)
    if inv.flow_intake is not None and inv.flow_intake.files:
        flows = inv.flow_intake
        _say(f"VPC flow logs: {plural(len(flows.files), 'file')}, {plural(flows.read, 'record')} read, "
             f"{flows.used:,} used, {flows.rejected:,} rejected, {plural(len(flows.bad_files), 'unreadable file')}")
        _report_problems(flows)
    found = inv.connections(since, until, accounts, regions, group)
    if len(found):  # the sentences in the zone of the table's times, as correlate's
        from .analysis.connections import describe
        from .analysis.events import records

        found = found.assign(detail=[describe(r, "en", settings.display_tz) for r in records(found)])
    if fmt == "table" and len(found):
        _bullets(found["detail"])
    _emit(found, fmt, CONNECTION_TABLE, settings, CONNECTION_DROP,
          empty=f"group {group} had no exposure window in the range" if group else "no exposure window in the range")


def _severity_bound(value: str | None) -> tuple[float, str] | None:
    """--min-severity as (GuardDuty number, band label): a label gives its band's bound, a number its band."""
    if value is None:
        return None
    from .evidence.guardduty import SEVERITY_BANDS, severity_label

    text = value.strip().lower()
    bounds = {name.lower(): low for name, low in SEVERITY_BANDS}
    if text in bounds:
        return bounds[text], text
    try:
        number = float(text)
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected low, medium, high, critical or a number from 0 to 10") from None
    if not 0 <= number <= 10:
        raise click.BadParameter(f"{value!r}: a GuardDuty severity is from 0 to 10")
    return number, severity_label(max(number, 1.0)).lower()


@main.command()
@_scope(exposure=True)
@click.option("--room", help="The Chatwork room id to post to (not needed with --dry-run).")
@click.option("--kind", type=click.Choice(["sg-changes", "ssh-exposure", "detections", "findings", "correlations",
                                           "connections", "summary"]),
              default="ssh-exposure", show_default=True,
              help="What to share: each change, each exposure window, each detection hit, each GuardDuty finding, "
                   "each finding tied to a window, each source or coverage gap of a window (VPC flow logs), "
                   "or one summary in sentences.")
@click.option("--digest", is_flag=True,
              help="One message for everything instead: counts by kind and severity, and the most severe items "
                   "(the rest is in the report).")
@click.option("--per-day", is_flag=True, help="With --digest: one digest a day (in the display time zone).")
@_min_severity
@click.option("--include-samples", is_flag=True,
              help="Also GuardDuty sample findings (additionalInfo.sample); they are tagged as samples.")
@click.option("--dry-run", is_flag=True,
              help="Print exactly the messages that would be posted (--format json for a list); no token, no network.")
@click.option("--outbox", type=click.Path(path_type=Path),
              help="The record of what was posted (default AUDIT_TOOLKIT_CHATWORK_OUTBOX or "
                   "~/.local/state/audit-toolkit).")
def notify(evidence, store, since, until, accounts, regions, tz, fmt, ports, internet_prefix, room, kind, digest,
           per_day, min_severity, include_samples, dry_run, outbox):
    """Share findings to a Chatwork room, each once. The token comes from CHATWORK_API_TOKEN or a token file.

    GuardDuty findings below medium and sample findings are left out unless asked for (--min-severity low,
    --include-samples)."""
    from .chatwork.client import ChatworkError, load_token, room_id
    from .chatwork.share import digest_messages, messages_for, open_outbox, share, summary_messages

    if not room and not dry_run:
        raise click.UsageError("--room is needed to post; only --dry-run works without one")
    if per_day and not digest:
        raise click.UsageError("--per-day goes with --digest")
    settings = _settings(ports, internet_prefix, tz)
    if room is not None:  # a room that is no number fails now, not at the first post after the scan
        try:
            room_id(room)
        except ChatworkError as e:
            raise click.BadParameter(str(e), param_hint="--room") from None
    if not dry_run:
        load_token()  # no token is an error now, not after a scan of the whole evidence
    outbox = open_outbox(outbox, readonly=dry_run)  # one that cannot be opened, too
    inv = _open(evidence, store, settings)
    scope = (since, until, accounts, regions)
    floor = min_severity[0] if min_severity else 4.0  # GuardDuty's medium

    def findings():
        found = inv.findings(*scope, floor)
        return found if include_samples else found[~found["sample"].astype(bool)].reset_index(drop=True)

    label = min_severity and min_severity[1]
    if digest:
        span = inv.span(*scope)
        sections = {"sg-changes": inv.sg_changes(*scope), "ssh-exposure": inv.ssh_exposure(*scope),
                    "detections": inv.detect(*scope, min_severity=label), "guardduty": findings()}
        items = digest_messages(sections, inv.settings, since or span["first_event"], until or span["last_event"],
                                per_day)
    elif kind == "sg-changes":
        items = messages_for(inv.sg_changes(*scope), kind, inv.settings)
    elif kind == "ssh-exposure":
        items = messages_for(inv.ssh_exposure(*scope), kind, inv.settings)
    elif kind == "detections":
        items = messages_for(inv.detect(*scope, min_severity=label), kind, inv.settings)
    elif kind == "findings":  # the kind the real-time alert uses, so an alerted finding is not posted again
        items = messages_for(findings(), "guardduty", inv.settings)
    elif kind == "correlations":
        tied = inv.correlate(*scope, floor)
        keep = set(findings()["id"])
        items = messages_for(tied[tied["finding_id"].isin(keep)], kind, inv.settings)
    elif kind == "connections":
        items = messages_for(inv.connections(*scope), kind, inv.settings)
    else:
        span = inv.span(*scope)
        found = findings()
        items = summary_messages(inv.sg_changes(*scope), inv.ssh_exposure(*scope), found if len(found) else None,
                                 inv.settings, since or span["first_event"], until or span["last_event"])
    report = share(items, room or "", dry_run=dry_run, outbox=outbox)
    if not dry_run:
        _say(f"posted {plural(len(report.sent), 'message')} to room {room}; "
             f"{len(report.skipped)} {'was' if len(report.skipped) == 1 else 'were'} already there")
    elif fmt == "table":
        click.echo(report.preview() if report.to_send else "(nothing to send)")
    else:
        _emit(pd.DataFrame([vars(o) for o in report.to_send], columns=["kind", "fingerprint", "part", "parts", "body"]),
              fmt, [], settings)


@main.command()
@_scope(output=False, exposure=True)
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for report.html (self-contained), report.md and charts/*.png.")
def report(evidence, store, since, until, accounts, regions, tz, ports, internet_prefix, out):
    """The periodic audit report: changes, exposure windows, detections, evidence appendix; HTML and Markdown."""
    from .report import write_report

    inv = _open(evidence, store, _settings(ports, internet_prefix, tz), out=out)
    written = write_report(inv, out, since, until, accounts, regions)
    click.echo(f"{export.visible(str(written.html))}\n{export.visible(str(written.markdown))}")


@main.command()
@click.argument("name", required=False)
@click.option("--since", help="Start of the time range, ISO 8601 (UTC if no zone), inclusive.")
@click.option("--until", help="End of the time range, ISO 8601 (UTC if no zone), exclusive.")
@click.option("--account", "accounts", multiple=True, help="Only this AWS account id (once: the query binds one).")
@click.option("--region", "regions", multiple=True, help="Only this AWS region (once: the query binds one).")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
              help="A value for another of the query's parameters, e.g. principal=alice (repeatable).")
@_clean_errors
def sql(name, since, until, accounts, regions, params) -> None:
    """Print a query's Athena SQL with its parameters bound as safely quoted literals, ready to paste into the
    Athena console; without NAME, list the queries."""
    from pyathena.formatter import DefaultParameterFormatter

    # Every other command takes a list; this text binds one value, and silently keeping the last
    # of two would print a query for another scope than asked.
    for option, given in (("--account", accounts), ("--region", regions)):
        if len(given) > 1:
            raise click.BadParameter(f"given {len(given)} times ({', '.join(given)}); the query binds one "
                                     "value: print one query per value", param_hint=option)
    account, region = (accounts or (None,))[0], (regions or (None,))[0]
    if account is not None and not ACCOUNT.fullmatch(account):  # as every other command checks it
        raise click.BadParameter(f"{account!r} is no AWS account id (12 digits)", param_hint="--account")
    if region is not None and not REGION.fullmatch(region):
        raise click.BadParameter(f"{region!r} is no AWS region name (such as ap-northeast-1)", param_hint="--region")

    if name is None:
        for query in queries.QUERIES.values():
            click.echo(f"{query.name}: {query.doc.splitlines()[0] if query.doc else ''}")
        return
    query = queries.get(name)
    values = {k: v for k, v in _usage(queries.scope, since, until, account, region).items() if k in query.params}
    keys = [item.partition("=")[0] for item in params]
    for key in dict.fromkeys(k for k in keys if keys.count(k) > 1):  # the text binds one: never the last kept
        raise click.UsageError(f"--param {key} given {keys.count(key)} times: the query binds one value")
    for item in params:
        key, sep, value = item.partition("=")
        if not sep or key not in query.params:
            raise click.BadParameter(f"{item!r}: {name} takes {', '.join(query.params) or 'no parameters'}",
                                     param_hint="--param")
        if key in queries.SCOPE_PARAMS:  # with its partition bound: set apart, the text contradicts itself
            raise click.BadParameter(f"{item!r}: the scope is set by --since, --until, --account and --region",
                                     param_hint="--param")
        try:  # as the query declares it, before anything is printed: text stays text (a user named 123)
            values[key] = query.typed(key, value)
        except AuditToolkitError as e:
            raise click.BadParameter(str(e), param_hint="--param") from None
    if "days" in query.params:  # sg_state: Config's day folders, as inv.state(since=) lists them
        from .analysis.state import config_days

        scope = queries.scope(since, until)
        days = config_days(scope["since"], scope["until"]) if since else None
        values.update(first_day=days and days[0], days=days or [])
    missing = [p for p in query.params if p not in values and p not in queries.SCOPE_PARAMS]
    if missing:
        raise click.UsageError(f"{name} needs {', '.join(f'--param {p}=...' for p in missing)}")
    values.update({p: None for p in query.params if p not in values})  # an unset scope bound is no bound
    query, values = query.expand(values)
    click.echo(DefaultParameterFormatter().format(query.render("athena"), query.bind(values)) + ";")


@main.command()
@click.option("--out", type=click.Path(path_type=Path), default=Path("demo"), show_default=True,
              help="Folder for the demo evidence and results.")
@click.option("--events", type=click.IntRange(min=100), default=20_000, show_default=True,
              help="How many events of background noise to generate.")
@click.option("--seed", type=int, default=7, show_default=True)
@TZ_OPTION
@_clean_errors
def demo(out: Path, events: int, seed: int, tz: str | None) -> None:
    """Generate synthetic evidence with a scripted incident, investigate it, and write the results."""
    from .demo import run_demo

    _usage(_zone_typed, tz)  # a bad --tz fails before anything is written
    _settings(tz=tz)
    run_demo(out, events=events, seed=seed, echo=click.echo, tz=tz)


@main.group()
def athena() -> None:
    """Athena: create the database and tables the queries read (settings: AUDIT_TOOLKIT_ATHENA_*, AWS_*)."""


athena.command_class = OnceCommand


@athena.command()
@click.option("--logs", required=True, help="s3://bucket/prefix of the trail (the folder above AWSLogs/).")
@click.option("--account", "accounts", multiple=True, required=True, help="An account whose logs to project (repeatable).")
@click.option("--region", "regions", multiple=True, required=True, help="A region to project (repeatable).")
@click.option("--org-id", help="The organization id (o-...) of an organization trail: logs under AWSLogs/o-.../<account>/.")
@click.option("--findings", help="s3://bucket/prefix of the GuardDuty findings export (default: --logs).")
@click.option("--config", help="s3://bucket/prefix of AWS Config's delivery (default: --logs).")
@click.option("--first-day", default="2020/01/01", show_default=True, help="First day (YYYY/MM/DD) of the projected range.")
@click.option("--database", help="Athena database (default audit_toolkit, or AUDIT_TOOLKIT_ATHENA_DATABASE).")
@click.option("--flow-logs", help="s3://bucket/prefix of the VPC flow logs (the folder above AWSLogs/): "
                                  "adds the vpcflowlogs table.")
@click.option("--flow-log-format", help="The flow log's fields in its order, as its files' header line "
                                        "gives them (default: the default format).")
@click.option("--flow-logs-hourly", is_flag=True,
              help="The flow logs are partitioned by hour (.../YYYY/MM/DD/HH/).")
@click.option("--flow-logs-parquet", is_flag=True, help="The flow logs are delivered as Parquet.")
@click.option("--dry-run", is_flag=True, help="Print the DDL and do nothing.")
@_clean_errors
def setup(logs, accounts, regions, org_id, findings, config, first_day, database, flow_logs, flow_log_format,
          flow_logs_hourly, flow_logs_parquet, dry_run) -> None:
    """Create the database, the cloudtrail table (partition projection), the GuardDuty findings
    table, the AWS Config table (security-group state) and, with --flow-logs, the VPC flow logs table."""
    from .engines.athena import AthenaEngine, AthenaSettings
    from .queries import ddl, to_pyformat

    settings = AthenaSettings.load(database=database)
    flow_format = flow_log_format.split() if flow_log_format else None
    statements = ddl.render(logs, accounts, regions, settings.database, first_day, org_id, findings,
                            config, flow_logs, flow_format, flow_logs_hourly, flow_logs_parquet)
    if dry_run:
        click.echo(";\n\n".join(statements) + ";")
        return
    engine = AthenaEngine(settings, on_report=lambda r: _say(r.summary()))
    for statement in statements:
        engine.run(to_pyformat(statement), {})
    tables = "cloudtrail, guardduty, config and vpcflowlogs" if flow_logs else "cloudtrail, guardduty and config"
    _say(f"Athena database {settings.database!r}: {tables} tables ready")


@main.command()
@click.argument("source")
@click.option("--since", required=True, help="Start of the time range, ISO 8601 (UTC if no zone).")
@click.option("--until", required=True, help="End of the time range, ISO 8601 (UTC if no zone).")
@click.option("--account", "accounts", multiple=True, help="Only this account (repeatable; default: every account found).")
@click.option("--region", "regions", multiple=True, help="Only this region (repeatable; default: every region found).")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Folder for the evidence and its manifest.")
@click.option("--workers", type=click.IntRange(1, 64), default=8, show_default=True, help="Parallel downloads.")
@click.option("--state", is_flag=True,
              help="Also ask EC2 for the security groups of each --region now (DescribeSecurityGroupRules, "
                   "DescribeSecurityGroups): the state at the end of the evidence.")
@click.option("--state-role", metavar="NAME",
              help="With --state: assume arn:aws:iam::<account>:role/NAME (STS) to ask EC2 in each "
                   "account of the scope; without it, only the caller's account is asked.")
@_clean_errors
def collect(source, since, until, accounts, regions, out, workers, state, state_role) -> None:
    """Copy CloudTrail logs, GuardDuty exports and AWS Config's delivery from SOURCE
    (s3://bucket/prefix) with a chain-of-custody manifest."""
    from .evidence.collect import collect as collect_evidence

    report = collect_evidence(source, since, until, out, accounts, regions, workers=workers,
                              state=state, state_role=state_role)
    _say(export.visible(report.summary()))
    for failure in report.failed:
        _say(f"  not collected: {export.visible(failure)}")
    for note in report.notes:
        _say(f"  {export.visible(note)}")
    for refusal in report.refused:
        _say(f"  refused: {export.visible(refusal)}")
    click.echo(f"manifest SHA-256 {report.manifest_sha256} (write it in the case notes; "
               f"`audit-toolkit verify --expect` checks it)")
    if report.failed:
        n = len(report.failed)
        raise click.ClickException(f"{plural(n, 'object')} {'was' if n == 1 else 'were'} not collected; "
                                   "re-run the same command to resume")
    if report.refused:
        n = len(report.refused)
        raise click.ClickException(f"{plural(n, 'object')} {'was' if n == 1 else 'were'} refused: "
                                   f"{'its key' if n == 1 else 'their keys'} cannot be local paths under --out "
                                   "(in the manifest, with the reason)")


VALIDATION_TABLE = ["status", "kind", "path", "account", "region", "time", "reason"]


@main.command("validate-logs")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--public-keys", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The JSON of `aws cloudtrail list-public-keys` for the period (default: the "
                   "public-keys.json collect stored in FOLDER).")
@click.option("--signatures", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="For a folder collect did not make: a JSON object of digest S3 key to its hex "
                   "signature (the digest object's metadata `signature`).")
@click.option("--since", help="Judge only files and digests from this time, ISO 8601 "
                               "(default: the range collected).")
@click.option("--until", help="... and before this time, ISO 8601.")
@TZ_OPTION
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True,
              help="Output format.")
def validate_logs(folder, public_keys, signatures, since, until, tz, fmt) -> None:
    """Prove the CloudTrail logs in FOLDER are AWS's own, offline: CloudTrail's signed digest chain.

    One row per log file and digest: valid, modified, missing, not_covered, signature_invalid,
    missing_digest or no_key; the hours the chain covers and its gaps on stderr. Exit 0 when
    everything is valid, 1 when anything is not, 2 when the validation could not run.
    """
    from .evidence.log_validation import validate_folder
    from .phrases import words

    try:
        settings = _settings(tz=tz)  # a bad --tz fails before any file is read
        report = validate_folder(folder, public_keys, signatures, since, until)
    except AuditToolkitError as e:
        raise click.UsageError(str(e)) from e
    _emit(pd.DataFrame(report.table(), columns=VALIDATION_TABLE), fmt, VALIDATION_TABLE,
          settings, ("region", "account", "kind"), empty="no log file or digest in the range")
    language = settings.language  # what it could not prove, and why, in the language setting
    for span in report.gaps:
        _say(export.visible(span.line(language, settings.display_tz)))
    for note in report.notes(language):
        _say(export.visible(words(language, "report.not_checked", note=note)))
    _say(report.summary(language))
    if not report.ok:
        sys.exit(1)


@main.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--expect", metavar="SHA256",
              help="The manifest's SHA-256 printed at the end of collect (in the case notes).")
@_clean_errors
def verify(folder: Path, expect: str | None) -> None:
    """Check the manifest, then re-hash the evidence against it: files changed, missing or added."""
    from .evidence.manifest import verify as verify_folder

    report = verify_folder(folder, expect)
    for kind, paths in (("manifest", report.manifest), ("refused", report.outside),
                        ("changed", report.changed), ("missing", report.missing),
                        ("added", report.added)):
        for path in paths:
            click.echo(export.visible(f"{kind}: {path}"))
    _say(export.visible(report.summary()))
    if not report.ok:
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
