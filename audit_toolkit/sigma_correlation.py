"""Sigma correlation rules (`event_count`, `value_count`, `temporal`) as one windowed query each.

    correlation: {type: event_count, rules: [rule-id], group-by: [sourceIPAddress], timespan: 10m,
                  condition: {gt: 5}}

pySigma parses and checks the rule (`SigmaCorrelationRule`); the referenced rules' conditions come
from our compiler (sigma.condition). The window slides: an event is a hit when the events of its
group in the timespan that ends at it (both ends included) meet the condition, and those of the
group's previous event did not (a burst is one hit, where it crosses the threshold). What is
counted: the events (`event_count`), the distinct values of `condition.field` among them
(`value_count`), or the referenced rules that have an event among them (`temporal`, by default
all). Counts are window functions over a time range frame; value_count's distinct count is a
self-join of the matching events on the group and the time range (Athena has no distinct count
over a window frame), so its cost grows with the events in each window. Written in Athena SQL and
translated by sqlglot like every query. Only events inside the scope are counted: a window
starting before `--since` sees only its part of the scope.

SigmaHQ's legacy aggregations are read as the correlations they mean: `sel | count() by F > N` with
`timeframe` is an event_count grouped by F, `count(G)` a value_count of G, `a | near b` and a
`timeframe` over `a and b` (selections no single event meets: SigmaHQ's SES rule) a temporal one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlglot
from sqlglot import exp

from . import queries

TYPES = ("event_count", "value_count", "temporal")
_OPS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "eq": "=", "neq": "<>"}
_LEGACY_COUNT = re.compile(
    r"^(?P<cond>.+?)\s*\|\s*count\(\s*(?P<field>[\w.]*)\s*\)\s*"
    r"(?:by\s+(?P<by>[\w.]+(?:\s*,\s*[\w.]+)*))?"
    r"\s*(?P<op>[<>]=?|==?)\s*(?P<n>\d+)\s*$")
_LEGACY_OPS = {">": "gt", ">=": "gte", "<": "lt", "<=": "lte", "=": "eq", "==": "eq"}


class Unsupported(ValueError):
    """A correlation that cannot be said in SQL here."""


@dataclass(frozen=True)
class Correlation:
    """What a correlation counts, over which window and groups, and what meets it."""

    type: str
    rules: tuple[str, ...]  # the referenced rules' ids or names, as written
    seconds: int
    timespan: str
    group_by: tuple[str, ...]
    op: str
    count: float
    field: str | None = None  # value_count's field


def parse(document: dict) -> Correlation:
    """A correlation rule's YAML (a dict) checked by pySigma, as what the SQL needs."""
    from sigma.correlations import SigmaCorrelationCondition, SigmaCorrelationRule

    rule = SigmaCorrelationRule.from_dict(document)
    kind = rule.type.name.lower()
    if kind not in TYPES:
        raise Unsupported(f"correlation type {kind}: only {', '.join(TYPES)} are compiled to SQL "
                          "here")
    if len(rule.aliases):
        raise Unsupported("correlation field aliases: not compiled here (name the same field in "
                          "every rule)")
    if not isinstance(rule.condition, SigmaCorrelationCondition):
        raise Unsupported("an extended temporal condition (a boolean of rules): not compiled here")
    field = rule.condition.fieldref
    if isinstance(field, list):
        raise Unsupported("a value_count over several fields: not compiled here")
    return Correlation(kind, tuple(r.reference for r in rule.rules or ()), rule.timespan.seconds,
                       rule.timespan.spec, tuple(rule.group_by or ()),
                       rule.condition.op.name.lower(),
                       rule.condition.count, field)


def from_legacy(document: dict) -> tuple[dict, dict] | None:
    """A legacy aggregation (`| count() ... > N`, or `timeframe` over `a and b`) as a plain rule and
    the correlation rule over it; None if the document has none. Unsupported where it says no
    window."""
    detection = document.get("detection") or {}
    condition, timeframe = detection.get("condition"), detection.get("timeframe")
    if not isinstance(condition, str):
        return None
    base = {k: v for k, v in document.items() if k not in ("detection", "id", "name")}
    names = [k for k in detection if k not in ("condition", "timeframe")]
    ident = str(document.get("id") or document.get("title") or "rule")
    near = re.fullmatch(r"\s*(\w+)\s*\|\s*near\s+(\w+(?:\s+and\s+\w+)*)\s*", condition)
    if near and not timeframe:
        raise Unsupported(f"an aggregation in the condition ({condition.strip()!r}): the legacy "
                          "near form with no timeframe, so no window to correlate in")
    if near:
        condition = " and ".join([near[1], near[2]])
    if "|" in condition:
        found = _LEGACY_COUNT.match(condition.strip())
        if not found or not timeframe:
            raise Unsupported(f"an aggregation in the condition ({condition.strip()!r}): not the "
                              "legacy count() form with a timeframe; write it as a Sigma "
                              "correlation rule")
        kind = "value_count" if found["field"] else "event_count"
        rules = [{**base, "name": f"{ident}-events", "detection": {
            **{k: detection[k] for k in names}, "condition": found["cond"]}}]
        correlation = {"type": kind, "timespan": timeframe,
                       "condition": {_LEGACY_OPS[found["op"]]: int(found["n"]),
                                     **({"field": found["field"]} if found["field"] else {})}}
        if found["by"]:
            correlation["group-by"] = [g.strip() for g in found["by"].split(",")]
    elif timeframe and re.fullmatch(r"\s*\w+(\s+and\s+\w+)+\s*", condition) \
            and set(condition.split()) - {"and"} <= set(names):
        # selections ANDed over a timeframe: events of each within it (one event cannot be all)
        parts = [p for p in condition.split() if p != "and"]
        rules = [{**base, "name": f"{ident}-{p}", "detection": {p: detection[p], "condition": p}}
                 for p in parts]
        correlation = {"type": "temporal", "timespan": timeframe}
    else:
        return None
    correlation["rules"] = [r["name"] for r in rules]
    meta = {k: v for k, v in document.items() if k != "detection"}
    return rules, {**meta, "correlation": correlation}


def query(name: str, correlation: Correlation, conditions: list[exp.Expression], doc: str,
          field) -> queries.Query:
    """The correlation's windowed query over the catalogue's columns and scope: the row of each
    event whose window meets the condition when the window of the group's previous event did not
    (a burst is one hit, not one per event in it), with `correlation_value` (the count there) and
    `correlation_start` (the window's first event, seconds since 1970). `field(name)` gives a
    Sigma field's SQL expression."""
    template = queries.get("candidate_events")
    time = exp.func("to_unixtime", exp.func("from_iso8601_timestamp", exp.column("eventtime")))
    columns = {f"corr_rule_{n}": c for n, c in enumerate(conditions)}
    columns["corr_t"] = time
    columns |= {f"corr_group_{n}": field(g) for n, g in enumerate(correlation.group_by)}
    if correlation.type == "value_count":
        columns["corr_value"] = field(correlation.field)
    inner = queries.compose(template, exp.or_(*(exp.paren(c) for c in conditions)), columns)
    matched = sqlglot.parse_one(inner, read="athena")
    matched.set("order", None)
    groups = ", ".join(f"corr_group_{n}" for n in range(len(correlation.group_by)))
    partition = f"PARTITION BY {groups} " if groups else ""
    frame = (f"OVER ({partition}ORDER BY corr_t "
             f"RANGE BETWEEN {correlation.seconds} PRECEDING AND CURRENT ROW)")
    met = f"{_OPS[correlation.op]} {correlation.count!r}"
    if correlation.type == "value_count":  # a distinct count: over the window's events, joined
        same_group = "".join(f" AND b.corr_group_{n} IS NOT DISTINCT FROM a.corr_group_{n}"
                             for n in range(len(correlation.group_by)))
        judged = (f"windows AS (SELECT a.eventid AS ended, "
                  f"count(DISTINCT b.corr_value) AS measured, min(b.corr_t) AS started "
                  f"FROM matched AS a JOIN matched AS b ON b.corr_t BETWEEN "
                  f"a.corr_t - {correlation.seconds} AND a.corr_t{same_group} GROUP BY a.eventid), "
                  f"judged AS (SELECT m.*, w.measured AS correlation_value, w.started AS "
                  f"correlation_start, w.measured {met} AS correlation_met "
                  f"FROM matched AS m JOIN windows AS w ON w.ended = m.eventid)")
    else:  # counts over a time range frame: the events, or the rules with an event
        measure = f"count(*) {frame}" if correlation.type == "event_count" else " + ".join(
            f"(CASE WHEN count_if(corr_rule_{n}) {frame} > 0 THEN 1 ELSE 0 END)"
            for n in range(len(conditions)))
        judged = (f"measured AS (SELECT m.*, {measure} AS correlation_value, "
                  f"min(corr_t) {frame} AS correlation_start FROM matched AS m), "
                  f"judged AS (SELECT *, correlation_value {met} AS correlation_met FROM measured)")
    sql = (f"WITH matched AS ({matched.sql(dialect='athena')}), {judged}, "
           f"crossed AS (SELECT j.*, lag(correlation_met) "
           f"OVER ({partition}ORDER BY corr_t, eventid) AS was_met FROM judged AS j) "
           f"SELECT * FROM crossed WHERE correlation_met AND (was_met IS NULL OR NOT was_met) "
           f"ORDER BY eventtime, eventid")
    text = sqlglot.parse_one(sql, read="athena").sql(dialect="athena", pretty=True,
                                                     normalize_functions="lower")
    return queries.Query(name, template.params, doc, text)
