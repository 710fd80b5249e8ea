"""Sigma rules for CloudTrail, compiled into registry queries that run on DuckDB and on Athena.

    rules = sigma.load(["rules/cloud/aws/"])       # parsed with pySigma; rules.refused says why not
    hits = inv.detect(sigma=["rules/cloud/aws/"])  # beside the catalogue's hits, in the same columns

pySigma parses each rule (YAML, modifiers, conditions) into its condition tree; `condition()` turns
that tree into an Athena SQL condition over the `cloudtrail` table, as sqlglot expressions, with
Sigma's semantics: case-insensitive matching unless `|cased`, wildcards, `|contains`, `|startswith`,
`|endswith`, `|all`, `|re`, `|cidr`, `|exists`, `null` for an absent field, `|fieldref`, keywords.
The condition becomes the filter of a detection-shaped query (`queries.with_filter`), so it is bound,
translated by sqlglot and scoped like every other query, and Sigma rules join the catalogue's scan.
Field names map to the table's columns: top-level fields to their lowercase column (and `status`,
the Sigma taxonomy's outcome, to `errorCode` absent for success, present for failure), `userIdentity.*`
and `tlsDetails.*` to struct fields, `requestParameters.*`, `responseElements.*`,
`additionalEventData.*` and `serviceEventDetails.*` to JSON extraction from the logged text (a value
inside a list matches too). A rule that cannot be compiled is refused with its reason, never dropped.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import yaml
from sqlglot import exp

from . import queries
from . import sigma_correlation as correlations
from .errors import ConfigError

# Sigma's levels as the catalogue's severities ("informational" is below the catalogue's lowest).
LEVELS = {"informational": "low", "low": "low", "medium": "medium", "high": "high", "critical": "critical"}
_JSON_COLUMNS = {"requestparameters", "responseelements", "additionaleventdata", "serviceeventdetails"}
_STRUCT_COLUMNS = {"useridentity", "tlsdetails"}
# What a keyword (a value without a field) is searched in: the logged text an analyst would grep.
_KEYWORD_COLUMNS = ("eventname", "useragent", "errormessage", "requestparameters", "responseelements")
_TEMPLATE = "candidate_events"  # the columns, scope and order of every detection's query


@dataclass(frozen=True)
class Rule:
    """A compiled Sigma rule: what a hit carries, and the query that finds its events."""

    id: str
    title: str
    level: str
    severity: str
    author: str  # the Detection Rule License asks that a message built from a rule's matches keeps it
    tags: tuple[str, ...]
    path: str
    query: queries.Query
    correlation: correlations.Correlation | None = None  # counts across events: a query of its own
    event_names: frozenset[str] | None = None  # lowercased, a prefix ends in `*`: an event it
    # matches has one of them (None: any)

    @functools.cached_property
    def condition(self) -> exp.Expression:
        """The rule's filter as a sqlglot tree (parsed once)."""
        return queries.condition_of(self.query)

    @property
    def technique(self) -> str:
        return ", ".join(t.removeprefix("attack.").upper() for t in self.tags if re.fullmatch(r"attack\.t\d+(\.\d+)?", t))

    @property
    def detection(self):
        """The rule as a catalogue Detection whose every candidate is a hit: its SQL is the decision."""
        from .analysis.detections import Detection

        from .phrases import phrase, say

        said = phrase("sigma", title=repr(self.title), author=self.author)
        if self.correlation is not None:
            return Detection(self.id, self.title, self.title, self.severity, self.technique, {},
                             say(said, "en"), "", lambda row, request, ctx: (None,
                                                                             self._window(row)))
        return Detection(self.id, self.title, self.title, self.severity, self.technique, {},
                         say(said, "en"), "", lambda row, request, ctx: (None, said))

    def _window(self, row):
        """What a correlation's window held, from its query's row: count, span and group."""
        from datetime import datetime, timezone

        from .phrases import phrase

        c = self.correlation
        counted = f"{c.type} of {c.field}" if c.field else c.type
        group = ", ".join(f"{g}={row.get(f'corr_group_{n}')}" for n, g in enumerate(c.group_by))
        start = datetime.fromtimestamp(float(row["correlation_start"]), timezone.utc)
        return phrase("sigma_correlation", title=repr(self.title), author=self.author,
                      counted=counted, value=int(row["correlation_value"]), timespan=c.timespan,
                      group=group or "no group-by", start=start.strftime("%Y-%m-%dT%H:%M:%SZ"))


def hits(rule: Rule, rows):
    """The rule's hits among its query's rows, in the catalogue's columns plus its author and tags."""
    from .analysis.detections import hits as catalogue_hits

    found = catalogue_hits(rule.detection, rows, learn=False)
    return found.assign(rule_author=rule.author, rule_tags=", ".join(rule.tags), rule_path=rule.path)


def scan(rules: list[Rule], counted: int | None = None, ids: bool = False) -> queries.Query:
    """One query for all the rules: the rows any rule matches, with a `sigma_<n>` column per rule
    (in the list's order) saying whether the n-th matches. One scan of the evidence instead of one
    per rule, on DuckDB and on Athena (where each scan is paid for). Not for correlation rules,
    which each have a query of their own. `counted` (N): one row of each rule's count and its first
    N events (`first_sigma_<n>`: [eventtime, eventname, eventid] each), no rows fetched. `ids`: only
    the events whose eventid is one of the parameter `ids` (a list), whose event name is one of
    `names` and whose time is from `first_time` to `last_time` (text): bounds those events meet
    that let the engine skip the parts of a store sorted by name and time that hold none."""
    conditions = [r.condition for r in rules]
    # When every rule names its event names, one test of the name at the top of the filter lets the
    # engine skip the other events at once (inside an OR or a CASE it is a test per name and row).
    named = all(r.event_names is not None for r in rules)
    names = sorted(frozenset().union(*(r.event_names or () for r in rules)))
    where = exp.or_(*(exp.paren(_in_order(c)) for c in conditions))
    if named:
        where = exp.and_(_name_in(names), exp.paren(where))
    flags = {f"sigma_{n}": _in_order(c if r.event_names is None or len(rules) == 1 else
                                     exp.and_(_name_in(sorted(r.event_names)), exp.paren(c)))
             for n, (c, r) in enumerate(zip(conditions, rules))}
    if ids:  # the ids alone prune nothing (random text): name and time bounds skip row groups
        time = exp.column("eventtime")
        where = exp.and_(exp.column("eventname").isin(exp.Placeholder(this="names")),
                         time >= exp.Placeholder(this="first_time"),
                         time <= exp.Placeholder(this="last_time"),
                         exp.column("eventid").isin(exp.Placeholder(this="ids")), exp.paren(where))
    label = "sigma counts" if counted is not None else "sigma"
    return queries.flagged(_TEMPLATE, f"{label}({len(rules)} rules)", flags, where, counted,
                           ("ids", "names", "first_time", "last_time") if ids else ())


def _in_order(condition: exp.Expression) -> exp.Expression:
    """The condition's top-level AND as nested CASEs: each test runs only on the rows the tests
    before it let through, in the order written (cheap first), where an engine would evaluate every
    part of an AND in a SELECT and may reorder one in a WHERE. NULL becomes false: at the top of a
    filter or a flag both mean no match."""
    def conjuncts(e: exp.Expression) -> list[exp.Expression]:
        return list(e.unnest().flatten()) if isinstance(e.unnest(), exp.And) else [e]

    parts = [q for p in conjuncts(condition) for q in conjuncts(p)]
    if len(parts) == 1:
        return condition
    nested = parts[-1]
    for part in reversed(parts[:-1]):
        nested = exp.Case(ifs=[exp.If(this=part, true=nested)], default=exp.false())
    return nested


def _name_in(names: list[str]) -> exp.Expression:
    """An OR of equalities, not IN: DuckDB makes a long IN list a join, which it cannot push into its
    scan of the store; the ORs it can, and then reads the other columns of the named events only."""
    name = exp.func("lower", exp.column("eventname"))

    def test(n: str) -> exp.Expression:
        if not n.endswith("*"):
            return name.eq(exp.Literal.string(n))
        return exp.Like(this=name.copy(), expression=exp.Literal.string(n[:-1] + "%"))
    return exp.paren(exp.or_(*map(test, names)))


def scan_hits(rules: list[Rule], rows):
    """The rules' hits among the rows of `scan(rules)`."""
    import pandas as pd

    found = [hits(rule, rows[rows[f"sigma_{n}"].fillna(False).astype(bool)].reset_index(drop=True))
             for n, rule in enumerate(rules)]
    found = [f for f in found if len(f)]
    if not found:
        return hits(rules[0], rows.iloc[:0]) if rules else rows
    return pd.concat(found, ignore_index=True)


ROWS_PER_RULE = 1000  # hits kept of a rule matching more events; its count is still reported


def run(rules: list[Rule], ask, limit: int = ROWS_PER_RULE, batch: int = 1000):
    """The rules' hits, `ask(query, **values)` running each query in the scope. The events each
    plain rule matches are counted first, with its first `limit` events in time order, reading only
    the columns the rules test (one count for the rules that name their event names, one for the
    others); then those events' rows are fetched, up to `batch` events a query, each query for
    whole rules' events and bounded by their ids, names and times (which a store sorted by name and
    time skips most of its parts by). Correlations run one query each. A plain rule's hits say how
    many events it matched in all (`rule_matched`); the frame's attrs say each rule's count
    (`sigma_counts`) and which rules kept only their first rows (`sigma_capped`, rule id -> events
    matched)."""
    import pandas as pd

    plain = [r for r in rules if r.correlation is None]
    parts = [p for p in ([r for r in plain if r.event_names is not None],
                         [r for r in plain if r.event_names is None]) if p]
    counted: dict[str, int] = {}
    first: dict[str, list] = {}  # rule id -> its first events, [eventtime, eventname, eventid] each
    for part in parts:
        row = ask(scan(part, counted=limit)).iloc[0]
        counted |= {r.id: int(row[f"sigma_{n}"]) if pd.notna(row[f"sigma_{n}"]) else 0
                    for n, r in enumerate(part)}  # no event in the scope: NULL
        first |= {r.id: json.loads(row[f"first_sigma_{n}"]) or [] for n, r in enumerate(part)
                  if counted[r.id]}
    heavy = [r for r in plain if counted[r.id] > limit]
    groups: list[list[Rule]] = []
    # fewest first: the rules with few events share one query, a rule with many has its own
    for r in sorted((r for r in plain if first.get(r.id)), key=lambda r: len(first[r.id])):
        if not groups or sum(len(first[g.id]) for g in groups[-1]) + len(first[r.id]) > batch:
            groups.append([])
        groups[-1].append(r)
    found = []
    for group in groups:
        events = [e for r in group for e in first[r.id]]  # CloudTrail gives every event a name
        rows = ask(scan(group, ids=True), ids=sorted({e[2] for e in events}),
                   names=sorted({e[1] for e in events}), first_time=min(e[0] for e in events),
                   last_time=max(e[0] for e in events))
        held = list(zip(rows["eventtime"], rows["eventid"]))
        for n, r in enumerate(group):  # a rule keeps its first events, not others of the same id
            keys = {(t, i) for t, _, i in first[r.id]}
            mine = rows[f"sigma_{n}"].fillna(False).astype(bool) & \
                pd.Series([k in keys for k in held], index=rows.index, dtype=bool)
            found.append(hits(r, rows[mine].reset_index(drop=True)))
    found = [f.assign(rule_matched=f["detection"].map(counted)) for f in found if len(f)]
    found += [hits(r, ask(r.query)) for r in rules if r.correlation is not None]
    found = [f for f in found if len(f)]
    frame = pd.concat(found, ignore_index=True) if found else \
        hits(rules[0], pd.DataFrame()).assign(rule_matched=None)
    frame.attrs["sigma_counts"] = counted
    frame.attrs["sigma_capped"] = {r.id: counted[r.id] for r in heavy}
    return frame


@dataclass
class RuleSet:
    rules: list[Rule] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (path and title, reason)


class Unsupported(ValueError):
    """A part of a rule that cannot be said in SQL over the cloudtrail table."""


def load(paths: Iterable[str | Path]) -> RuleSet:
    """Every Sigma rule in these files and folders (recursively, `*.yml` and `*.yaml`; a file may
    hold several YAML documents), compiled. A correlation rule finds the rules it names (by id or
    name) anywhere in the set; they are not run alone unless it says `generate: true`."""
    found, named, correlated = RuleSet(), {}, []
    for path in _files(paths):
        try:
            documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        except Exception as e:  # a YAML error: the file is listed, the rest goes on
            found.refused.append((str(path), f"{type(e).__name__}: {e}"))
            continue
        for n, document in enumerate(documents):
            origin = str(path) if len(documents) == 1 else f"{path}#{n + 1}"
            with _refusal(found, origin):
                legacy = correlations.from_legacy(document) if isinstance(document, dict) else None
                if isinstance(document, dict) and "correlation" in document or legacy:
                    for base in legacy[0] if legacy else ():
                        named[base["name"]] = compile_rule(base, origin)
                    correlated.append((origin, legacy[1] if legacy else document))
                    continue
                rule = compile_rule(document, origin)
                found.rules.append(rule)
                named |= {str(k): rule for k in (document.get("id"), document.get("name")) if k}
    for origin, document in correlated:
        with _refusal(found, origin):
            rule, used = _correlate(document, origin, named)
            found.rules.append(rule)
            if not (document.get("correlation") or {}).get("generate"):
                found.rules = [r for r in found.rules if all(r is not u for u in used)]
    return found


class _refusal:
    """Lists a rule that cannot be compiled with its reason; the rest of the set goes on."""

    def __init__(self, found: RuleSet, origin: str) -> None:
        self.found, self.origin = found, origin

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, error, tb) -> bool:
        if error is None or not isinstance(error, Exception):
            return False
        known = isinstance(error, (Unsupported, correlations.Unsupported, ConfigError))
        why = str(error) if known else f"{kind.__name__}: {error}"
        self.found.refused.append((self.origin, why))
        return True  # pySigma's own errors too: the rule is listed, never dropped in silence


def _files(paths: Iterable[str | Path]) -> list[Path]:
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(f for f in p.rglob("*") if f.suffix in (".yml", ".yaml") and f.is_file())
        elif p.is_file():
            files.append(p)
        else:
            raise ConfigError(f"no Sigma rule file or folder at {p}")
    return files


def compile_rule(text: str | dict, origin: str = "<string>") -> Rule:
    """One rule's YAML (or the dict it holds) into a Rule; Unsupported (with the reason) where it
    cannot be compiled. A correlation rule needs the rules it names: `load` compiles it."""
    from sigma.rule import SigmaRule

    document = yaml.safe_load(text) if isinstance(text, str) else text
    if not isinstance(document, dict):
        raise Unsupported("not a Sigma rule: the file holds no YAML mapping")
    if "correlation" in document:
        raise Unsupported("a correlation rule: it names other rules, so load its whole rule set")
    logsource = document.get("logsource") or {}
    if (logsource.get("product"), logsource.get("service")) != ("aws", "cloudtrail"):
        raise Unsupported(f"not a CloudTrail rule: logsource {logsource}")
    conditions = (document.get("detection") or {}).get("condition")
    for c in conditions if isinstance(conditions, list) else [conditions]:
        if isinstance(c, str) and "|" in c:
            raise Unsupported(f"an aggregation in the condition ({c.strip()!r}): pySigma no longer "
                              "reads it; `load` reads the legacy count() form as a correlation")
    rule = SigmaRule.from_dict(document)
    parsed = [c.parsed for c in rule.detection.parsed_condition]
    sql = exp.or_(*(condition(p) for p in parsed)) if len(parsed) > 1 else condition(parsed[0])
    level = rule.level.name.lower() if rule.level else "medium"
    author = rule.author or "unknown"
    ident = str(rule.id or re.sub(r"\W+", "_", rule.title or origin))
    query = queries.with_filter(_TEMPLATE, f"sigma_{ident}", sql,
                                f"Sigma rule {rule.title!r} ({origin}) by {author}.")
    names = [_event_names(p) for p in parsed]
    return Rule(ident, rule.title or ident, level, LEVELS.get(level, "medium"), author,
                tuple(str(t) for t in rule.tags), origin, query,
                event_names=None if None in names else frozenset().union(*names))


def _correlate(document: dict, origin: str, named: dict[str, Rule]) -> tuple[Rule, list[Rule]]:
    """A correlation rule compiled over the rules it names; with them, to leave out of the set."""
    from sigma.correlations import SigmaCorrelationRule

    found = correlations.parse(document)
    missing = [r for r in found.rules if r not in named]
    if missing:
        raise Unsupported(f"the correlation names rules not in the rule set: {', '.join(missing)}")
    used = [named[r] for r in found.rules]
    if any(u.correlation is not None for u in used):
        raise Unsupported("a correlation of correlations: not compiled to SQL here")
    meta = SigmaCorrelationRule.from_dict(document)
    level = meta.level.name.lower() if meta.level else "medium"
    author = meta.author or "unknown"
    ident = str(meta.id or document.get("name") or re.sub(r"\W+", "_", meta.title or origin))
    query = correlations.query(
        f"sigma_{ident}", found, [queries.condition_of(u.query) for u in used],
        f"Sigma correlation rule {meta.title!r} ({origin}) by {author}.", lambda f: _field(f)[0])
    return Rule(ident, meta.title or ident, level, LEVELS.get(level, "medium"), author,
                tuple(str(t) for t in meta.tags), origin, query, found), used


# --- the condition tree into SQL --------------------------------------------------------------------


def condition(node) -> exp.Expression:
    """A pySigma condition tree as one sqlglot boolean expression over the cloudtrail table."""
    from sigma.conditions import (ConditionAND, ConditionFieldEqualsValueExpression, ConditionNOT,
                                  ConditionOR, ConditionValueExpression)

    if isinstance(node, ConditionAND):  # cheap tests first: each later one runs on the rows left
        parts = [p for c in map(condition, node.args)
                 for p in (c.flatten() if isinstance(c, exp.And) else [c])]
        return exp.and_(*sorted((exp.paren(p) for p in parts), key=_cost))
    if isinstance(node, ConditionOR):
        return exp.or_(*(exp.paren(condition(a)) for a in node.args))
    if isinstance(node, ConditionNOT):
        return exp.not_(exp.paren(condition(node.args[0])))
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return _match(node.field, node.value)
    if isinstance(node, ConditionValueExpression):  # a keyword: found anywhere in the logged text
        from sigma.types import SigmaString, SpecialChars

        value = node.value
        if isinstance(value, SigmaString):
            value = SigmaString("*") + value + SigmaString("*") \
                if not (value.startswith(SpecialChars.WILDCARD_MULTI) or value.endswith(SpecialChars.WILDCARD_MULTI)) \
                else value
        return exp.or_(*(_match(c, value) for c in _KEYWORD_COLUMNS))
    raise Unsupported(f"condition {type(node).__name__} cannot be said in SQL")


def _match(name: str | None, value) -> exp.Expression:
    from sigma.types import (SigmaBool, SigmaCIDRExpression, SigmaCompareExpression, SigmaExists,
                             SigmaExpansion, SigmaFieldReference, SigmaNull, SigmaNumber,
                             SigmaRegularExpression, SigmaString)

    if name == "status" and isinstance(value, SigmaString):  # the Sigma taxonomy's outcome of a call
        outcome = value.to_plain().lower()
        if outcome not in ("success", "failure"):
            raise Unsupported(f"status {outcome!r}: CloudTrail says only success or failure (errorCode)")
        return exp.column("errorcode").is_(exp.null()) if outcome == "success" else \
            exp.not_(exp.column("errorcode").is_(exp.null()))
    scalar, listed = _field(name)
    if isinstance(value, SigmaExpansion):
        return exp.or_(*(exp.paren(_match(name, v)) for v in value.values))
    if isinstance(value, SigmaNull):
        return scalar.is_(exp.null()) if listed is None else exp.and_(scalar.is_(exp.null()), listed.is_(exp.null()))
    if isinstance(value, SigmaExists):
        present = exp.or_(scalar.is_(exp.null()).not_(), *([] if listed is None else [listed.is_(exp.null()).not_()]))
        return present if value.exists else exp.not_(exp.paren(present))
    if isinstance(value, SigmaString):
        return _string(scalar, listed, value)
    if isinstance(value, SigmaBool):
        return exp.func("lower", scalar).eq(exp.Literal.string("true" if value.boolean else "false"))
    if isinstance(value, SigmaNumber):
        return exp.or_(scalar.eq(exp.Literal.string(str(value.number))),
                       exp.TryCast(this=scalar, to=exp.DataType.build("double")).eq(exp.Literal.number(value.number)))
    if isinstance(value, SigmaCompareExpression):
        ops = {"LT": exp.LT, "LTE": exp.LTE, "GT": exp.GT, "GTE": exp.GTE}
        number = exp.TryCast(this=scalar, to=exp.DataType.build("double"))
        return ops[value.op.name](this=number, expression=exp.Literal.number(value.number.number))
    if isinstance(value, SigmaRegularExpression):
        flags = "".join(f for f, on in (("i", "IGNORECASE"), ("m", "MULTILINE"), ("s", "DOTALL"))
                        if any(flag.name == on for flag in value.flags))
        text = value.regexp.to_plain() if hasattr(value.regexp, "to_plain") else str(value.regexp)
        pattern = (f"(?{flags})" if flags else "") + text
        found = exp.func("regexp_like", scalar, exp.Literal.string(pattern))
        literal, folds = _required_text(pattern)
        if literal is None:
            return found
        # text every match holds: a string search skips the regex on most rows
        subject, literal = (exp.func("lower", scalar), literal.lower()) if folds \
            else (scalar, literal)
        return exp.and_(exp.func("strpos", subject, exp.Literal.string(literal)) > 0, found)
    if isinstance(value, SigmaCIDRExpression):
        return _in_network(scalar, value.network)
    if isinstance(value, SigmaFieldReference):
        other, _ = _field(value.field)
        if not (value.starts_with or value.ends_with):
            return exp.func("lower", scalar).eq(exp.func("lower", other))
        pattern = exp.func("concat", *([] if value.starts_with else [exp.Literal.string("%")]),
                           exp.func("lower", other), *([] if value.ends_with else [exp.Literal.string("%")]))
        return exp.Like(this=exp.func("lower", scalar), expression=pattern)
    raise Unsupported(f"value {type(value).__name__} for {name!r} cannot be said in SQL")


def _event_names(node) -> frozenset[str] | None:
    """The event names (lowercased; a prefix ends in `*`), one of which every event the condition
    matches has (None: any). What a scan tests first, so a superset is enough."""
    from sigma.conditions import ConditionAND, ConditionFieldEqualsValueExpression, ConditionOR
    from sigma.types import SigmaExpansion, SigmaString, SpecialChars

    def name(value) -> str | None:
        if not isinstance(value, SigmaString):
            return None
        if not value.contains_special():  # an escaped `*` at the end would read as a prefix
            return None if value.to_plain().endswith("*") else value.to_plain().lower()
        head, last = value.s[:-1], value.s[-1] if value.s else None
        text = "".join(head) if all(isinstance(p, str) for p in head) else ""
        # a LIKE with no ESCAPE (which DuckDB can push): its `%` and `_` only widen it
        prefix = last == SpecialChars.WILDCARD_MULTI and text and "\\" not in text
        return text.lower() + "*" if prefix else None

    if isinstance(node, ConditionAND):
        found = [n for n in map(_event_names, node.args) if n is not None]
        return min(found, key=len) if found else None
    if isinstance(node, ConditionOR):
        found = [_event_names(a) for a in node.args]
        return None if None in found else frozenset().union(*found)
    if not isinstance(node, ConditionFieldEqualsValueExpression) \
            or node.field.lower() != "eventname":
        return None
    values = node.value.values if isinstance(node.value, SigmaExpansion) else [node.value]
    names = [name(v) for v in values]
    return None if None in names else frozenset(names)


def _cost(condition: exp.Expression) -> float:
    """How dear a test is per row: the event name, a string search (a regex's guard), other
    columns, struct fields, JSON, a regex."""
    test = condition.unnest()
    if isinstance(test, exp.GT) and isinstance(test.this, exp.StrPosition):
        return 0.5
    if any(f.name.lower() == "regexp_like" for f in condition.find_all(exp.Anonymous)) \
            or condition.find(exp.RegexpLike):
        return 4
    if condition.find(exp.JSONExtractScalar, exp.JSONExtract):
        return 3
    if condition.find(exp.Dot):
        return 2
    return 0 if {c.name for c in condition.find_all(exp.Column)} == {"eventname"} else 1


def _required_text(pattern: str) -> tuple[str | None, bool]:
    """The longest text (3 characters or more) that every match of the regex holds, read from its
    top-level sequence of literals (None where there is none or the regex is not plain enough to
    say), and whether the regex ignores case."""
    import re._parser as parser  # the standard library's own regex parser
    from re._constants import LITERAL

    try:
        parsed = parser.parse(pattern)
    except Exception:  # noqa: BLE001 - a form Python does not read: no shortcut, the regex alone
        return None, False
    folds = bool(parsed.state.flags & re.IGNORECASE)
    best, run = "", ""
    for op, value in list(parsed) + [(None, None)]:
        if op is LITERAL:
            run += chr(value)
            continue
        best, run = max(best, run, key=len), ""
    return (best if len(best) >= 3 and best.isascii() else None), folds


def _field(name: str | None) -> tuple[exp.Expression, exp.Expression | None]:
    """The field as a scalar text expression, and for JSON fields its JSON text (to match in a list)."""
    from .evidence.schema import CLOUDTRAIL_SCHEMA

    if not name:
        raise Unsupported("a field with no name")
    parts = name.split(".")
    column = parts[0].lower()
    if column not in CLOUDTRAIL_SCHEMA.names:
        raise Unsupported(f"field {name!r} is not a CloudTrail field")
    if len(parts) == 1:
        return _text(exp.column(column)), None
    if column in _STRUCT_COLUMNS:
        path = exp.column(column)
        for part in parts[1:]:
            if not re.fullmatch(r"[A-Za-z0-9_]+", part):
                raise Unsupported(f"field {name!r}: {part!r} is not a struct field name")
            path = exp.Dot(this=path, expression=exp.to_identifier(part.lower()))
        return _text(path), None
    if column in _JSON_COLUMNS:
        for part in parts[1:]:
            if not re.fullmatch(r"[A-Za-z0-9_-]+", part):
                raise Unsupported(f"field {name!r}: {part!r} cannot be a JSON path step")
        json_path = exp.Literal.string("$." + ".".join(parts[1:]))
        scalar = exp.func("json_extract_scalar", exp.column(column), json_path)
        listed = exp.func("json_format", exp.func("json_extract", exp.column(column), json_path))
        return scalar, listed
    raise Unsupported(f"field {name!r}: {column} has no nested fields")


def _text(expression: exp.Expression) -> exp.Expression:
    return expression  # every field the rules can name is text in Athena's CloudTrail table


def _string(scalar: exp.Expression, listed: exp.Expression | None, value) -> exp.Expression:
    """A Sigma string against a field: its wildcards as LIKE, case-insensitive unless `|cased`; for a
    JSON field, also a JSON string inside its list (`["a","b"]` holds `"a"`)."""
    from sigma.types import SigmaCasedString, SpecialChars

    if value.contains_placeholder():
        raise Unsupported(f"placeholder in {value}: placeholders need a pipeline of the user's values")
    pattern, wild = [], False
    for part in value.s:
        if part == SpecialChars.WILDCARD_MULTI:
            pattern.append("%")
            wild = True
        elif part == SpecialChars.WILDCARD_SINGLE:
            pattern.append("_")
            wild = True
        else:
            pattern.append(re.sub(r"([\\%_])", r"\\\1", str(part)))
    like = "".join(pattern)
    cased = isinstance(value, SigmaCasedString)
    fold = (lambda e: e) if cased else (lambda e: exp.func("lower", e))
    text = like if cased else like.lower()

    def compare(subject: exp.Expression, pattern_text: str, as_like: bool) -> exp.Expression:
        if as_like:
            return exp.Escape(this=exp.Like(this=fold(subject), expression=exp.Literal.string(pattern_text)),
                              expression=exp.Literal.string("\\"))
        return fold(subject).eq(exp.Literal.string(value.to_plain() if cased else value.to_plain().lower()))

    found = compare(scalar, text, wild)
    if listed is None:
        return found
    # inside a JSON list: the value as a JSON string, open where the pattern has a wildcard at an end
    inner = text.removeprefix("%").removesuffix("%")
    quoted = ("%" if text.startswith("%") else '%"') + inner + ("%" if text.endswith("%") else '"%')
    return exp.or_(found, compare(listed, quoted, True))


# --- |cidr as a range of the parsed address -----------------------------------------------------
# Neither engine shares an address type with the other (Athena's IPADDRESS, DuckDB's inet extension
# is downloaded at run time), so the text is parsed in SQL: an IPv4 address to its number, an IPv6
# address to its 32 hexadecimal digits (fixed width: text order is number order). A string that is
# not an address is in no network; a zone (%eth0) or an IPv4-mapped IPv6 form is not parsed.
_OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = (f"CASE WHEN regexp_like(ip, '^({_OCTET}[.]){{3}}{_OCTET}$') THEN "
         + " + ".join(f"CAST(split_part(ip, '.', {n + 1}) AS BIGINT) * {256 ** (3 - n)}"
                      for n in range(4))
         + " END")
_V6, _HEAD, _TAIL = "lower(ip)", "split_part(lower(ip), '::', 1)", "split_part(lower(ip), '::', 2)"
_MISSING = "(8 - {n} - {m})".format(  # the zero groups that '::' stands for
    **{k: f"(CASE WHEN {part} = '' THEN 0 ELSE cardinality(split({part}, ':')) END)"
       for k, part in (("n", _HEAD), ("m", _TAIL))})
_FULL = (f"CASE WHEN strpos({_V6}, '::') = 0 THEN {_V6} "  # eight groups, '::' spelt out
         f"WHEN strpos(substr({_V6}, strpos({_V6}, '::') + 1), '::') = 0 AND {_MISSING} >= 1 "
         f"THEN regexp_replace(concat({_HEAD}, ':', "
         f"substr('0:0:0:0:0:0:0:0', 1, 2 * {_MISSING} - 1), ':', {_TAIL}), '^:|:$', '') END")
_IPV6 = (f"CASE WHEN strpos(ip, ':') > 0 "
         f"AND regexp_like({_FULL}, '^([0-9a-f]{{1,4}}:){{7}}[0-9a-f]{{1,4}}$') "
         f"THEN array_join(transform(split({_FULL}, ':'), g -> lpad(g, 4, '0')), '') END")


def _in_network(field: exp.Expression, network) -> exp.Expression:
    """Whether the field's text is an address inside the network: NULL for an absent field, false
    for any other text (so `not` a network keeps a non-address, as Sigma's semantics have it)."""
    import sqlglot

    v4 = network.version == 4
    first, last = int(network.network_address), int(network.broadcast_address)
    parsed = sqlglot.parse_one(_IPV4 if v4 else _IPV6, read="athena").transform(
        lambda n: field.copy() if isinstance(n, exp.Column) and n.name == "ip" else n)
    bound = (lambda n: exp.Literal.number(n)) if v4 else (lambda n: exp.Literal.string(f"{n:032x}"))
    inside = exp.Between(this=parsed, low=bound(first), high=bound(last))
    return exp.Case(ifs=[exp.If(this=field.copy().is_(exp.null()), true=exp.null())],
                    default=exp.func("coalesce", inside, exp.false()))
