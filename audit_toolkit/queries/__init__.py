"""The registry of queries: one Athena SQL file each, with a header that names it and its parameters.

    -- name: sg_changes
    -- params: since, until, since_day, until_day, account, region
    -- What the query answers (these comment lines are its documentation).
    SELECT ...  WHERE eventtime >= :since ...

A parameter that is not text says its type after its name (`-- params: ..., min_severity double`):
`double`, `bigint` or `integer`; the others are `varchar`. `audit-toolkit sql --param` checks a value
typed by hand against it before it binds anything.
A header may also name `-- embedded_columns:`, columns the embedded engine's table has and Athena's
has not (schema.PROVENANCE_COLUMNS): DuckDB's text selects them too, Athena's does not.
Athena (Trino) SQL is the canonical text. DuckDB gets it through sqlglot, with the known traps fixed
in `_DuckDB` below; where the translation is still wrong, `duckdb/<name>.sql` overrides it.
Parameters are bound by the engine, never formatted into the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterator, Mapping

import sqlglot
from sqlglot import exp
from sqlglot.dialects.athena import Athena
from sqlglot.dialects.duckdb import DuckDB
from sqlglot.tokens import Token, TokenType

from ..errors import ConfigError, QueryError
from ..analysis.events import name_key
from ..evidence.schema import PROVENANCE_COLUMNS, SPINE_COLUMNS

HERE = Path(__file__).parent
# The .sql files live in the repository's top-level `queries/`; the wheel maps that folder into the
# package as `audit_toolkit/sql` (pyproject `package-dir`). Either way they sit at one of these.
SQL_DIR = next(p for p in (HERE.parent / "sql", HERE.parent.parent / "queries") if p.is_dir())
_HEADER = re.compile(r"^--\s*(name|params|filters|embedded_columns):\s*(.*)$")
SCOPE_PARAMS = ("since", "until", "since_day", "until_day", "account", "region")
PARAM_TYPES = ("varchar", "double", "bigint", "integer")  # what a header may declare; varchar unsaid


class _DuckDB(DuckDB):
    class Generator(DuckDB.Generator):
        TRANSFORMS = {
            **DuckDB.Generator.TRANSFORMS,
            # Athena's json_extract_scalar gives NULL on an object or array; DuckDB's ->> gives JSON text.
            exp.JSONExtractScalar: lambda self, e: (
                f"(JSON_VALUE({self.sql(e, 'this')}, {self.sql(e, 'expression')}) ->> '$')"
            ),
        }


@dataclass(frozen=True)
class Query:
    name: str
    params: tuple[str, ...]
    doc: str
    sql: str  # Athena SQL, as written (for a filter, as composed with its template)
    overrides: Mapping[str, str] = field(default_factory=dict)  # dialect -> SQL, where translation fails
    template: str | None = None  # the query whose columns and scope it filters (`-- filters:`)
    condition: str | None = None  # that filter, Athena SQL: what the file holds
    embedded_columns: tuple[str, ...] = ()  # selected on the embedded engine alone
    types: Mapping[str, str] = field(default_factory=dict)  # a parameter's declared type; varchar unsaid

    def typed(self, name: str, value: str) -> Any:
        """A value typed by hand (`sql --param`) as the parameter `name` takes it: a number for a
        `double`, `bigint` or `integer`; QueryError, naming the parameter, the value and the type
        it expects, for a value that is not one."""
        kind = self.types.get(name, "varchar")
        if kind == "varchar":
            return value
        try:
            number = float(value) if kind == "double" else int(value.strip(), 10)
        except ValueError:
            number = None
        if number is None or number != number or number in (float("inf"), float("-inf")):
            expected = "a number" if kind == "double" else "a whole number"
            raise QueryError(f"{name}={value!r}: expected {kind} ({expected})")
        return number

    def render(self, dialect: str) -> str:
        """The query's text for an engine's dialect; parameters stay as placeholders."""
        if dialect in self.overrides:
            return self.overrides[dialect]
        if dialect == "athena":
            return to_pyformat(self.sql)
        if dialect == "duckdb":
            if not self.embedded_columns:
                return to_duckdb(self.sql)
            tree = sqlglot.parse_one(self.sql, read="athena")
            return tree.select(*(exp.column(c, quoted=True) for c in self.embedded_columns)).sql(
                dialect=_DuckDB)
        raise QueryError(f"no SQL for dialect {dialect!r}: expected 'athena' or 'duckdb'")

    def runs_on_focused_scan(self, only: frozenset[str]) -> bool:
        """Whether a scan that converted only the events named `only` whole (and of every other event
        its spine, schema.SPINE_COLUMNS) holds everything this query reads. Names are compared as
        the scan matches them, case and all but letters and digits aside (events.name_key)."""
        names, columns = _reads(self.sql)
        keys = {name_key(n) for n in only}
        return (names is not None and {name_key(n) for n in names} <= keys) or columns <= SPINE_COLUMNS

    def expand(self, values: Mapping[str, Any]) -> tuple["Query", dict[str, Any]]:
        """This query and its values with each list value bound one element a placeholder:
        `day IN (:days)` with days=['2026/11/2', '2026/11/3'] becomes `day IN (:days_0, :days_1)`,
        so Athena gets literal values it prunes partitions by, and nothing is formatted in. An
        empty list binds one NULL (`IN (NULL)` matches nothing)."""
        lists = {k: list(v) or [None] for k, v in values.items() if isinstance(v, (list, tuple))}
        if not lists:
            return self, dict(values)
        bound = {k: v for k, v in values.items() if k not in lists}
        for name, items in lists.items():
            bound.update({f"{name}_{i}": item for i, item in enumerate(items)})
        names = {k: [f"{k}_{i}" for i in range(len(v))] for k, v in lists.items()}
        params = tuple(p for name in self.params for p in names.get(name, [name]))

        def spread(sql: str) -> str:
            out, done = [], 0
            for colon, name in _placeholder_tokens(sql):
                if name.text in names:
                    out += [sql[done:colon.start], ", ".join(f":{n}" for n in names[name.text])]
                    done = name.end + 1
            return "".join(out) + sql[done:]

        overrides = MappingProxyType({d: spread(text) for d, text in self.overrides.items()})
        return replace(self, params=params, sql=spread(self.sql), overrides=overrides), bound

    def bind(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Check the values against the declared parameters: unknown or missing ones are errors."""
        unknown = set(values) - set(self.params)
        missing = set(self.params) - set(values)
        if unknown or missing:
            raise QueryError(
                f"query {self.name!r} takes {', '.join(self.params) or 'no parameters'}; "
                f"unknown: {sorted(unknown) or 'none'}, missing: {sorted(missing) or 'none'}"
            )
        return dict(values)


@lru_cache(maxsize=1024)
def to_duckdb(sql: str) -> str:
    """Athena SQL translated for DuckDB, kept by text: a rule set run again is not translated."""
    return ";\n".join(sqlglot.transpile(sql, read="athena", write=_DuckDB))


def to_pyformat(sql: str) -> str:
    """Athena SQL with `:name` placeholders rewritten for PyAthena's pyformat binding.

    PyAthena fills `%(name)s` with Python's `%` operator, so every other `%` in the text (in a
    string literal such as LIKE '%x%', the modulo operator, a comment) is doubled.
    """
    out: list[str] = []
    done = 0  # characters of `sql` already copied to `out`
    for colon, name in _placeholder_tokens(sql):
        out.append(sql[done : colon.start].replace("%", "%%"))
        out.append(f"%({name.text})s")
        done = name.end + 1
    out.append(sql[done:].replace("%", "%%"))
    return "".join(out)


def _placeholder_tokens(sql: str) -> Iterator[tuple[Token, Token]]:
    """Each `:name` placeholder as its two tokens. sqlglot's tokenizer tells a placeholder from a
    `:name` inside a string literal, and tokenizing is a tenth of the cost of parsing."""
    tokens = Athena().tokenize(sql)
    for colon, name in zip(tokens, tokens[1:]):
        if colon.token_type is TokenType.COLON and name.start == colon.end + 1 \
                and name.token_type is not TokenType.STRING and name.text.isidentifier():
            yield colon, name


def _placeholders(sql: str) -> set[str]:
    return {name.text for _, name in _placeholder_tokens(sql)}


@lru_cache(maxsize=None)
def _reads(sql: str) -> tuple[frozenset[str] | None, frozenset[str]]:
    """The event names a query's rows of `cloudtrail` can have (None: any), and the columns it reads."""
    names: frozenset[str] | None = frozenset()
    columns: set[str] = set()
    for select in sqlglot.parse_one(sql, read="athena").find_all(exp.Select):
        table = select.args.get("from_")
        if not isinstance(table and table.this, exp.Table) or table.this.name.lower() != "cloudtrail":
            continue
        aliases = {e.alias.lower() for e in select.expressions if e.alias}  # GROUP BY hour, say
        columns |= {c.parts[0].name.lower() for c in select.find_all(exp.Column)} - aliases
        where = select.args.get("where")
        found = _event_names(where.this) if where else None
        names = None if names is None or found is None else names | found
    return names, frozenset(columns)


def _event_names(condition: exp.Expression) -> frozenset[str] | None:
    """The event names a condition lets through: `eventname IN (...)` or `= '...'`, ANDed and ORed."""
    condition = condition.unnest()
    if isinstance(condition, (exp.And, exp.Or)):
        left, right = _event_names(condition.left), _event_names(condition.right)
        if isinstance(condition, exp.And):
            return right if left is None else left if right is None else left & right
        return None if left is None or right is None else left | right
    if isinstance(condition, exp.In) and _is_event_name(condition.this):
        values = condition.expressions
    elif isinstance(condition, exp.EQ) and _is_event_name(condition.this):
        values = [condition.expression]
    else:
        return None
    if not values or not all(isinstance(v, exp.Literal) and v.is_string for v in values):
        return None
    return frozenset(v.this for v in values)


def _is_event_name(node: exp.Expression) -> bool:
    """`eventname`, or it as events.name_key reads it: regexp_replace(lower(eventname), ...)."""
    if (isinstance(node, exp.RegexpReplace) and isinstance(node.this, exp.Lower)
            and node.expression.name == "[^a-z0-9]" and node.args.get("replacement")
            and node.args["replacement"].name == ""):
        node = node.this.this
    return isinstance(node, exp.Column) and node.name.lower() == "eventname" and not node.table


def load(path: Path, known: Mapping[str, Query] | None = None) -> Query:
    """Parse one query file; a header that does not match the SQL is an error now, not at run time.

    A file whose header says `-- filters: TEMPLATE` holds only a condition: the query is TEMPLATE's
    columns, scope and order with that condition as its filter (`compose`); TEMPLATE is a query in
    `known`, and its parameters are the filter's (a condition binds nothing of its own)."""
    header: dict[str, str] = {}
    doc: list[str] = []
    body: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _HEADER.match(line.strip())
        if not body and match:
            header[match[1]] = match[2].strip()
        elif not body and line.startswith("--"):
            doc.append(line[2:].strip())
        elif body or line.strip():
            body.append(line)
    name = header.get("name")
    if name != path.stem:
        raise QueryError(f"{path}: the header must say '-- name: {path.stem}'")
    sql = "\n".join(body).strip().rstrip(";")
    if "filters" in header:
        template = (known or {}).get(header["filters"])
        if template is None or "params" in header:
            raise QueryError(f"{path}: '-- filters: {header['filters']}' must name a query of the "
                             "registry, and a filter declares no parameters of its own")
        return with_filter(template, name, sql, "\n".join(doc).strip())
    declared = [p.split() for p in header.get("params", "").split(",") if p.strip()]
    params = tuple(p[0] for p in declared)
    types = {p[0]: p[1].lower() for p in declared if len(p) == 2 and p[1].lower() in PARAM_TYPES}
    if any(len(p) > 2 or len(p) == 2 and p[0] not in types for p in declared):
        raise QueryError(f"{path}: a parameter is declared as 'name' or 'name TYPE', TYPE one of "
                         f"{', '.join(PARAM_TYPES)}")
    used = _placeholders(sql)
    if used != set(params):
        raise QueryError(
            f"{path}: declared parameters {sorted(params)} but the SQL uses {sorted(used)}"
        )
    overrides = {
        d.name: (d / path.name).read_text(encoding="utf-8").strip().rstrip(";")
        for d in path.parent.iterdir()
        if d.is_dir() and (d / path.name).exists()
    }
    embedded = tuple(c.strip() for c in header.get("embedded_columns", "").split(",") if c.strip())
    if set(embedded) - set(PROVENANCE_COLUMNS):
        raise QueryError(f"{path}: embedded_columns may name only {', '.join(PROVENANCE_COLUMNS)}")
    return Query(name, params, "\n".join(doc).strip(), sql, MappingProxyType(overrides),
                 embedded_columns=embedded, types=MappingProxyType(types))


def load_all(folder: Path = SQL_DIR) -> Mapping[str, Query]:
    """Every query in the folder: whole queries first, then the filters composed with them."""
    paths = sorted(folder.glob("*.sql"))
    filters = [p for p in paths
               if re.search(r"^--\s*filters:", p.read_text(encoding="utf-8"), re.M)]
    found = {q.name: q for q in (load(p) for p in paths if p not in filters)}
    found |= {q.name: q for q in (load(p, found) for p in filters)}
    return MappingProxyType({name: found[name] for name in sorted(found)})


def compose(template: Query, condition: exp.Expression,
            flags: Mapping[str, exp.Expression] | None = None, counted: int | None = None) -> str:
    """The template's Athena SQL with `condition` ANDed before its own filter (its scope), and each
    of `flags` added as a column (alias -> boolean condition): trees joined, not text cut.
    `counted` (a number N): instead of the rows, one row with how many rows each flag holds for
    and, as `first_<flag>`, its first N rows in time order as a JSON list of [eventtime, eventname,
    eventid] (a row of the detections' template): what a fetch of those rows prunes its scan by."""
    tree = _tree(template.sql).copy()
    where = tree.args.get("where")
    scope = list(where.this.flatten()) if where and isinstance(where.this, exp.And) else \
        [where.this] if where else []
    tree.set("where", exp.Where(this=exp.and_(_paren(condition), *scope)))
    if counted is not None:
        tree.set("expressions", [])
        tree.set("order", None)
    for alias, flag in (flags or {}).items():
        if counted is None:
            tree.select(exp.alias_(exp.paren(flag), alias), copy=False)
            continue
        # bigint on both engines (DuckDB's count_if is a HUGEINT, which pandas reads as a float)
        tree.select(exp.alias_(exp.cast(exp.func("count_if", flag), "bigint"), alias), copy=False)
        order = exp.func("concat", exp.column("eventtime"), exp.column("eventid"))
        row = exp.Array(expressions=[exp.column(c) for c in ("eventtime", "eventname", "eventid")])
        first = exp.func("min_by", row, order, exp.Literal.number(counted))
        first = exp.Filter(this=first, expression=exp.Where(this=flag.copy()))
        # as JSON text: an id from the evidence may hold the commas of Athena's array text
        first = exp.func("json_format", exp.cast(first, "json"))
        tree.select(exp.alias_(first, f"first_{alias}"), copy=False)
    return tree.sql(dialect="athena", pretty=True, normalize_functions="lower")


@lru_cache(maxsize=16)
def _tree(sql: str) -> exp.Expression:
    return sqlglot.parse_one(sql, read="athena")


def _paren(condition: exp.Expression) -> exp.Expression:
    return condition if isinstance(condition, exp.Paren) else exp.paren(condition)


def _condition(text: str | exp.Expression, origin: str) -> exp.Expression:
    try:
        condition = text if isinstance(text, exp.Expression) else \
            sqlglot.parse_one(text, read="athena")
    except sqlglot.errors.ParseError as e:
        raise QueryError(f"{origin}: the filter is not an Athena SQL condition: {e}") from None
    if _placeholders(condition.sql(dialect="athena")):  # a filter binds nothing of its own
        raise QueryError(f"{origin}: a condition may not hold parameters")
    return condition


def union(names: list[str] | tuple[str, ...]) -> Query:
    """One query for the candidate events of several filters of the same template (the detections'):
    its columns and scope, their conditions OR-ed. One scan instead of one per query, which on Athena
    is what is paid for. Each query file stays the canonical text of its filter.
    """
    parts = [get(n) for n in names]
    if not parts:
        raise QueryError("a union needs at least one query")
    templates = {q.template for q in parts}
    if len(templates) > 1:
        raise QueryError(f"queries {', '.join(names)} differ in columns or scope and cannot be one scan")
    if None in templates:
        raise QueryError(f"query {parts[0].name!r} is not a filter over the common columns and scope")
    template = get(parts[0].template)
    conditions = [_paren(condition_of(q)) for q in parts]
    sql = compose(template, exp.or_(*conditions) if len(conditions) > 1 else conditions[0])
    return Query(f"union({', '.join(names)})", template.params, "", sql, template=template.name,
                 condition=" OR ".join(c.sql(dialect="athena") for c in conditions))


def with_filter(template: str | Query, name: str, condition: str | exp.Expression,
                doc: str = "") -> Query:
    """A query of `template`'s columns, scope and order whose filter is `condition` (Athena SQL, or
    its sqlglot tree): how a detection file, or a detection written elsewhere (a Sigma rule), joins
    the catalogue's shape, its binding and `union`."""
    base = get(template) if isinstance(template, str) else template
    tree = _condition(condition, name)
    text = condition if isinstance(condition, str) else \
        tree.sql(dialect="athena", pretty=True, normalize_functions="lower")
    return Query(name, base.params, doc, compose(base, tree), template=base.name, condition=text)


def condition_of(query: Query) -> exp.Expression:
    """A filter query's condition as a sqlglot tree."""
    if query.condition is None:
        raise QueryError(f"query {query.name!r} is not a filter over the common columns and scope")
    return _condition(query.condition, query.name)


def flagged(template: str, name: str, conditions: Mapping[str, exp.Expression],
            where: exp.Expression | None = None, counted: int | None = None,
            params: tuple[str, ...] = ()) -> Query:
    """One scan for several conditions over `template`: rows matching any of them (or `where`, an
    equivalent filter that is cheaper to run, which may bind `params` of its own), with one boolean
    column per condition (its key) saying which; `counted`: one row of how many rows each condition
    matches and their first ids (`compose`). How many Sigma rules run as one query."""
    base = get(template)
    trees = {alias: _condition(c, f"{name}: {alias}") for alias, c in conditions.items()}
    if not trees:
        raise QueryError(f"{name}: no condition to scan for")
    where = exp.or_(*(_paren(t) for t in trees.values())) if where is None else where
    sql = compose(base, where, trees, counted)
    return Query(name, base.params + params, "", sql, template=base.name)


QUERIES: Mapping[str, Query] = load_all()


def get(name: str) -> Query:
    try:
        return QUERIES[name]
    except KeyError:
        import difflib

        near = difflib.get_close_matches(name, sorted(QUERIES), n=3, cutoff=0.6)
        raise QueryError(f"no query named {name!r}; " + (f"nearest: {', '.join(near)}" if near else "none is near")
                         + " (`audit-toolkit sql` lists them all)") from None


# Bounds a user may give: CloudTrail began in 2013, and the day after `until` must still be a date.
FIRST_YEAR, LAST_YEAR = 1970, 9998


def utc_iso(value: datetime | str | None, name: str = "--since/--until") -> str | None:
    """`value` as ISO 8601 UTC to the second; QueryError, naming the option `name`, if it is none."""
    if value is None:
        return None
    shown = str(value)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise QueryError(f"{name} must be an ISO 8601 time such as 2026-11-03T09:00:00Z, got {value!r}") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    try:
        value = value.astimezone(timezone.utc)
    except OverflowError:  # 0001-01-01 with a positive offset, 9999-12-31 with a negative one
        value = None
    if value is None or not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise QueryError(f"{name} must fall in the years {FIRST_YEAR} to {LAST_YEAR}, got "
                         f"{shown!r}" + (": leave --since or --until out for no bound" if "since" in name else ""))
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def scope(
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    account: str | None = None,
    region: str | None = None,
) -> dict[str, Any]:
    """The scope parameters every evidence query takes, with the partition bounds derived.

    A file lands in the day folder of its delivery, minutes after its events, so the last day
    folder searched is the day after `until`.
    """
    since_iso, until_iso = utc_iso(since), utc_iso(until)
    if since_iso is not None and until_iso is not None and since_iso >= until_iso:  # until is exclusive
        raise ConfigError(f"--since {since_iso} is not before --until {until_iso}: the time range is empty")
    day = lambda iso, extra=0: (  # noqa: E731
        None if iso is None else (datetime.fromisoformat(iso[:10]) + timedelta(days=extra)).strftime("%Y/%m/%d")
    )
    return dict(
        since=since_iso,
        until=until_iso,
        since_day=day(since_iso),
        until_day=day(until_iso, 1),
        account=account,
        region=region,
    )
