"""Chatwork messages for findings: pure functions from rows (dicts) to `Box`es, in Japanese or English.

Inputs are rows as the analysis returns them (security_groups.CHANGE_COLUMNS,
exposure.WINDOW_COLUMNS) or plain mappings with documented fields (GuardDuty findings, correlations).
Every field is optional: a missing one shows as "-". Every value goes through `neutralize`; only the
fixed wording below is trusted text. Times are shown in `Settings.display_tz`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from zoneinfo import ZoneInfo

import pandas as pd

from ..analysis.events import records
from ..evidence.guardduty import severity_label
from ..settings import Settings
from .notation import Box, is_missing, neutralize

# The wording, by language. Nothing here may contain a bracket (Box checks).
TEXT = {
    "ja": {
        "sg.authorize.ingress": "セキュリティグループのインバウンドルールが追加されました",
        "sg.authorize.egress": "セキュリティグループのアウトバウンドルールが追加されました",
        "sg.revoke.ingress": "セキュリティグループのインバウンドルールが削除されました",
        "sg.revoke.egress": "セキュリティグループのアウトバウンドルールが削除されました",
        "sg.modify": "セキュリティグループのルールが変更されました",
        "sg.update_description": "セキュリティグループのルールの説明が変更されました",
        "sg.create_group": "セキュリティグループが作成されました",
        "sg.delete_group": "セキュリティグループが削除されました",
        "sg.revoke_unmatched": "ルール削除の指定に一致するルールがなく、何も削除されませんでした",
        "sg.other": "セキュリティグループが操作されました",
        "sg.exposed": "ポート {ports} がインターネットに開放されました",
        "failed": "失敗した操作",
        "time": "日時", "account": "アカウント", "group": "セキュリティグループ", "rule": "ルール",
        "rule_id": "ルールID", "description": "説明", "actor": "実行者", "tool": "ツール",
        "source_ip": "送信元IP", "error": "エラー", "event": "イベント",
        "all_traffic": "全トラフィック", "all_ports": "全ポート",
        "window.open": "ポート {ports} のインターネット公開: 公開中",
        "window.closed": "ポート {ports} のインターネット公開: 終了",
        "opened": "公開", "closed": "終了", "still_open": "公開中 (証跡の終わりまで)",
        "before_evidence": "証跡の開始前から公開", "duration": "期間", "by": "実行者", "from": "送信元",
        "reason": "理由", "reason.revoked": "ルール削除", "reason.modified": "ルール変更",
        "reason.group deleted": "グループ削除", "reason.prefix list modified": "プレフィックスリスト変更",
        "window.unknown": "ポート {ports} が到達範囲不明のプレフィックスリストに公開",
        "caveat": "不確実", "caveat.order": "同じ秒の変更の順序を証跡が証明しないため、公開が続く順序を採用",
        "caveat.reach": "プレフィックスリストの内容が証跡にないため、到達範囲は不明",
        "gd.title": "GuardDuty: {title}", "severity": "重要度", "type": "種類", "instance": "インスタンス",
        "remote_ip": "相手IP", "port": "ポート", "country": "国", "updated": "更新", "finding_id": "ID",
        "sev.Critical": "重大", "sev.High": "高", "sev.Medium": "中", "sev.Low": "低",
        "corr.title": "公開中の攻撃: {type}", "corr.during": "公開期間中に検知",
        "summary.title": "監査サマリー", "period": "期間", "changes": "セキュリティグループの変更",
        "changes.count": "{n} 件 (失敗 {failed} 件、グループ {groups} 個、実行者 {actors} 人)",
        "windows": "インターネット公開", "windows.count": "{n} 件 (うち公開中 {open} 件)",
        "findings": "GuardDuty の検出", "none": "なし", "and_more": "ほか {n} 件",
        "api.title": "{event} が実行されました", "parameters": "リクエストパラメータ",
        "api.Subscribe": "SNS サブスクリプションが追加されました",
        "api.Unsubscribe": "SNS サブスクリプションが削除されました",
        "api.SetSubscriptionAttributes": "SNS サブスクリプションが変更されました",
        "api.ConfirmSubscription": "SNS サブスクリプションが確認されました",
        "api.CreateTopic": "SNS トピックが作成されました",
        "api.DeleteTopic": "SNS トピックが削除されました",
        "api.SetTopicAttributes": "SNS トピックの設定が変更されました",
        "topic": "トピック", "protocol": "プロトコル", "endpoint": "エンドポイント", "subscription": "サブスクリプション",
        "det.title": "検知 {severity}: {title}", "det.attempt": "未遂 (失敗した操作)", "det.detail": "内容",
        "det.target": "対象", "det.technique": "MITRE ATT&CK", "det.outcome": "結果", "det.success": "成功",
        "conn.title": "公開中のポートへの接続 ({verdict}): {source}",
        "conn.gap": "フローログで確認できない範囲: {gap}",
        "v.session": "セッション", "v.accepted, no data": "接続のみ (データなし)",
        "v.rejected only": "すべて拒否",
        "conn.known": "送信元", "conn.unknown": "不明なアドレス", "conn.flows": "フロー",
        "conn.flows.count": "許可 {accepted} 件、拒否 {rejected} 件", "conn.bytes": "バイト数",
        "conn.bytes.count": "受信 {bytes_in}、送信 {bytes_out}", "conn.seen": "観測",
        "conn.around": "公開前後",
        "conn.around.count": "公開前に拒否 {before} 件、終了後に許可 {after_ok} 件・拒否 {after_no} 件",
        "conn.interfaces": "ネットワークインターフェイス", "conn.findings": "GuardDuty",
        "conn.detail": "内容",
        "yes": "はい", "days": "{n}日", "hours": "{n}時間", "minutes": "{n}分", "seconds": "{n}秒", "sep": "",
    },
    "en": {
        "sg.authorize.ingress": "Inbound rule added to a security group",
        "sg.authorize.egress": "Outbound rule added to a security group",
        "sg.revoke.ingress": "Inbound rule removed from a security group",
        "sg.revoke.egress": "Outbound rule removed from a security group",
        "sg.modify": "Security group rule modified",
        "sg.update_description": "Security group rule description changed",
        "sg.create_group": "Security group created",
        "sg.delete_group": "Security group deleted",
        "sg.revoke_unmatched": "Revoke matched no rule: nothing was removed",
        "sg.other": "Security group changed",
        "sg.exposed": "Port {ports} opened to the internet",
        "failed": "failed call",
        "time": "Time", "account": "Account", "group": "Security group", "rule": "Rule",
        "rule_id": "Rule id", "description": "Description", "actor": "Actor", "tool": "Tool",
        "source_ip": "Source IP", "error": "Error", "event": "Event",
        "all_traffic": "all traffic", "all_ports": "all ports",
        "window.open": "Port {ports} open to the internet: still open",
        "window.closed": "Port {ports} open to the internet: closed",
        "opened": "Opened", "closed": "Closed", "still_open": "still open (at the end of the evidence)",
        "before_evidence": "Open before the evidence begins", "duration": "Duration", "by": "by", "from": "from",
        "reason": "reason", "reason.revoked": "rule revoked", "reason.modified": "rule modified",
        "reason.group deleted": "group deleted",
        "reason.prefix list modified": "prefix list modified",
        "window.unknown": "Port {ports} open to a prefix list of unknown reach",
        "caveat": "Uncertain",
        "caveat.order": "the evidence does not prove the order of changes in one second: "
                        "the order that keeps it open was taken",
        "caveat.reach": "the evidence does not hold the prefix list's entries: "
                        "its reach is unknown",
        "gd.title": "GuardDuty: {title}", "severity": "Severity", "type": "Type", "instance": "Instance",
        "remote_ip": "Remote IP", "port": "Port", "country": "Country", "updated": "Updated", "finding_id": "Id",
        "sev.Critical": "Critical", "sev.High": "High", "sev.Medium": "Medium", "sev.Low": "Low",
        "corr.title": "Attack while exposed: {type}", "corr.during": "Seen during the exposure window",
        "summary.title": "Audit summary", "period": "Period", "changes": "Security-group changes",
        "changes.count": "{n} ({failed} failed, {groups} groups, {actors} actors)",
        "windows": "Internet exposure", "windows.count": "{n} ({open} still open)",
        "findings": "GuardDuty findings", "none": "none", "and_more": "and {n} more",
        "api.title": "{event} was called", "parameters": "Request parameters",
        "api.Subscribe": "SNS subscription added",
        "api.Unsubscribe": "SNS subscription removed",
        "api.SetSubscriptionAttributes": "SNS subscription changed",
        "api.ConfirmSubscription": "SNS subscription confirmed",
        "api.CreateTopic": "SNS topic created",
        "api.DeleteTopic": "SNS topic deleted",
        "api.SetTopicAttributes": "SNS topic attributes changed",
        "topic": "Topic", "protocol": "Protocol", "endpoint": "Endpoint", "subscription": "Subscription",
        "det.title": "Detection {severity}: {title}", "det.attempt": "attempt (the call failed)", "det.detail": "What",
        "det.target": "Target", "det.technique": "MITRE ATT&CK", "det.outcome": "Outcome", "det.success": "done",
        "conn.title": "Through an open port ({verdict}): {source}",
        "conn.gap": "Flow logs cannot tell: {gap}",
        "v.session": "session", "v.accepted, no data": "accepted, no data",
        "v.rejected only": "rejected only",
        "conn.known": "Source", "conn.unknown": "an address nobody knows", "conn.flows": "Flows",
        "conn.flows.count": "{accepted} accepted, {rejected} rejected", "conn.bytes": "Bytes",
        "conn.bytes.count": "{bytes_in} in, {bytes_out} out", "conn.seen": "Seen",
        "conn.around": "Around the window",
        "conn.around.count": "{before} rejected before it opened, {after_ok} accepted and "
                             "{after_no} rejected after it closed",
        "conn.interfaces": "Network interfaces", "conn.findings": "GuardDuty", "conn.detail": "What",
        "yes": "yes", "days": "{n}d", "hours": "{n}h", "minutes": "{n}m", "seconds": "{n}s", "sep": " ",
    },
}
LIST_LIMIT = 200  # lines of one kind in a summary before "and n more"


class _Words:
    def __init__(self, settings: Settings) -> None:
        self.t = TEXT.get(settings.language, TEXT["ja"])
        self.tz = ZoneInfo(settings.display_tz)

    def __call__(self, key: str, **values: object) -> str:
        return self.t[key].format(**values)

    def field(self, key: str, value: str) -> str:
        return f"{self.t[key]}: {value}"

    def when(self, value: object) -> str:
        if is_missing(value):
            return "-"
        try:
            ts = pd.Timestamp(value)
        except (TypeError, ValueError, OverflowError):
            return neutralize(value)
        if ts is pd.NaT:
            return "-"
        if not 1970 <= ts.year <= 9999:  # a string like '/1' parses as year 0: show it as the text it is
            return neutralize(value)
        ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts
        return ts.tz_convert(self.tz).strftime("%Y-%m-%d %H:%M:%S %Z")

    def duration(self, value: object) -> str:
        if is_missing(value):
            return "-"
        try:
            seconds = int(pd.Timedelta(value).total_seconds())
        except (TypeError, ValueError, OverflowError):
            return neutralize(value)
        days, rest = divmod(max(seconds, 0), 86_400)
        hours, rest = divmod(rest, 3_600)
        minutes, secs = divmod(rest, 60)
        parts = [self(k, n=n) for k, n in (("days", days), ("hours", hours), ("minutes", minutes)) if n]
        if secs or not parts:
            parts.append(self("seconds", n=secs))
        return self.t["sep"].join(parts)


def _v(value: object) -> str:
    """A value from evidence, inert, or "-" when missing."""
    return "-" if is_missing(value) else neutralize(value)


def _get(row: Mapping, key: str) -> object:
    return row.get(key) if isinstance(row, Mapping) else None


def _port(value: object) -> int | None:
    if is_missing(value):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def rule_text(row: Mapping, w: _Words) -> str:
    """`tcp 22 <- 0.0.0.0/0` for ingress, `-> peer` for egress."""
    protocol = _get(row, "protocol")
    low, high = _port(_get(row, "from_port")), _port(_get(row, "to_port"))
    if protocol == "-1":
        what = w("all_traffic")
    elif is_missing(protocol):
        what = "-"
    else:
        if low is None or low < 0 or (low == 0 and high == 65535):
            ports = w("all_ports")
        else:
            ports = str(low) if high in (None, low) else f"{low}-{high}"
        what = f"{neutralize(protocol)} {ports}"
    arrow = "\u2192" if _get(row, "direction") == "egress" else "\u2190"
    return f"{what} {arrow} {_v(_get(row, 'peer'))}"


def _group(row: Mapping) -> str:
    name = _get(row, "group_name")
    return _v(_get(row, "group_id")) + ("" if is_missing(name) else f" ({neutralize(name)})")


def _where(row: Mapping) -> str:
    return f"{_v(_get(row, 'account'))} / {_v(_get(row, 'region'))}"


def sg_change(row: Mapping, settings: Settings, exposed: list[int] | None = None) -> Box:
    """One security-group rule change (a row of `Investigation.sg_changes()`).

    `exposed` are the watched ports the change opens to the internet (exposure.exposed_ports); when
    the call succeeded and opened any, the title says so.
    """
    w = _Words(settings)
    action, direction = _get(row, "action"), _get(row, "direction")
    key = next((k for k in (f"sg.{action}.{direction}", f"sg.{action}") if k in w.t), "sg.other")
    failed = not is_missing(_get(row, "error_code"))
    title = w(key)
    if exposed and not failed and action in ("authorize", "modify"):
        title = w("sg.exposed", ports=",".join(map(str, exposed))) + f" - {title}"
    if failed:
        title = f"{title} - {w('failed')}"
    lines = [w.field("time", w.when(_get(row, "event_time"))), w.field("account", _where(row)), w.field("group", _group(row))]
    if action not in ("create_group", "delete_group"):
        lines.append(w.field("rule", rule_text(row, w)))
        if not is_missing(_get(row, "rule_id")):
            lines.append(w.field("rule_id", neutralize(_get(row, "rule_id"))))
    if not is_missing(_get(row, "description")):
        lines.append(w.field("description", neutralize(_get(row, "description"))))
    lines += [
        w.field("actor", _v(_get(row, "actor"))),
        w.field("tool", _v(_get(row, "tool"))),
        w.field("source_ip", _v(_get(row, "source_ip"))),
    ]
    if failed:
        lines.append(w.field("error", f"{neutralize(_get(row, 'error_code'))} {_v(_get(row, 'error_message'))}"))
    lines.append(w.field("event", f"{_v(_get(row, 'event_name'))} {_v(_get(row, 'event_id'))}"))
    return Box(title, tuple(lines))


def exposure_window(row: Mapping, settings: Settings) -> Box:
    """One exposure window (a row of `Investigation.ssh_exposure()`)."""
    w = _Words(settings)
    ports = _v(_get(row, "exposed_ports"))
    still_open = bool(_get(row, "still_open")) if not is_missing(_get(row, "still_open")) else False
    unknown = _get(row, "reach") == "unknown"
    state = "window.unknown" if unknown else "window.open" if still_open else "window.closed"
    title = w(state, ports=ports)
    lines = [w.field("account", _where(row)), w.field("group", _group(row)), w.field("rule", rule_text({**row, "peer": _get(row, "cidr")}, w))]
    if unknown:
        lines.append(w.field("caveat", w("caveat.reach")))
    if _get(row, "ambiguous_order") is True:
        lines.append(w.field("caveat", w("caveat.order")))
    if _get(row, "open_before_evidence") is True:
        lines.append(w("before_evidence"))
    else:
        lines.append(
            w.field("opened", f"{w.when(_get(row, 'opened_at'))} {w('by')} {_v(_get(row, 'opened_by'))}"
                    f" ({w('from')} {_v(_get(row, 'opened_from_ip'))}, {_v(_get(row, 'opened_tool'))})")
        )
    if still_open:
        lines.append(w.field("closed", w("still_open")))
    else:
        reason = _get(row, "close_reason")
        reason_text = w.t.get(f"reason.{reason}") or _v(reason)
        lines.append(
            w.field("closed", f"{w.when(_get(row, 'closed_at'))} {w('by')} {_v(_get(row, 'closed_by'))}"
                    f" ({w('from')} {_v(_get(row, 'closed_from_ip'))}, {reason_text})")
        )
    lines.append(w.field("duration", w.duration(_get(row, "duration"))))
    if not is_missing(_get(row, "rule_id")):
        lines.append(w.field("rule_id", neutralize(_get(row, "rule_id"))))
    return Box(title, tuple(lines))


def _severity(finding: Mapping, w: _Words) -> str:
    number = _get(finding, "severity")
    label = _get(finding, "severity_label")
    label = severity_label(number) if is_missing(label) else str(label)
    shown = w.t.get(f"sev.{label}") or _v(label) if label else "-"
    return f"{_v(number)} ({shown})"


def _finding_lines(finding: Mapping, w: _Words) -> list[str]:
    # FINDING_COLUMNS (remote_country, local_port), or share.correlation_parts' finding (country, port).
    country = _get(finding, "country") if not is_missing(_get(finding, "country")) else _get(finding, "remote_country")
    port = _get(finding, "port") if not is_missing(_get(finding, "port")) else _get(finding, "local_port")
    remote = _v(_get(finding, "remote_ip"))
    if not is_missing(country):
        remote += f" ({neutralize(country)})"
    return [
        w.field("severity", _severity(finding, w)),
        w.field("type", _v(_get(finding, "type"))),
        w.field("account", _where(finding)),
        w.field("instance", _v(_get(finding, "instance_id"))),
        w.field("remote_ip", remote),
        w.field("port", _v(port)),
        w.field("updated", w.when(_get(finding, "updated_at"))),
        w.field("finding_id", _v(_get(finding, "id"))),
    ]


def guardduty_finding(finding: Mapping, settings: Settings) -> Box:
    """A GuardDuty finding from its flat fields (evidence.guardduty.FINDING_COLUMNS): id, type, severity,
    severity_label, title, account, region, instance_id, remote_ip, local_port, remote_country, updated_at."""
    w = _Words(settings)
    title = _get(finding, "title")
    return Box(w("gd.title", title=_v(title if not is_missing(title) else _get(finding, "type"))), tuple(_finding_lines(finding, w)))


def correlation(finding: Mapping, window: Mapping, settings: Settings) -> Box:
    """A GuardDuty finding seen while a watched port stood open: the finding, then the window."""
    w = _Words(settings)
    lines = _finding_lines(finding, w)
    still = bool(_get(window, "still_open")) if not is_missing(_get(window, "still_open")) else False
    closed = w("still_open") if still else w.when(_get(window, "closed_at"))
    lines += [
        w("corr.during"),
        w.field("group", _group(window)),
        w.field("rule", rule_text({**window, "peer": _get(window, "cidr")}, w)),
        w.field("opened", f"{w.when(_get(window, 'opened_at'))} {w('by')} {_v(_get(window, 'opened_by'))}"),
        w.field("closed", closed),
    ]
    return Box(w("corr.title", type=_v(_get(finding, "type"))), tuple(lines))


def connection(row: Mapping, settings: Settings) -> Box:
    """One row of Investigation.connections (analysis.connections.CONNECTION_COLUMNS): a source
    that came through an open window, or a coverage gap; then the window."""
    w = _Words(settings)
    still = bool(_get(row, "still_open")) if not is_missing(_get(row, "still_open")) else False
    window = [
        w.field("group", _group(row)),
        w.field("rule", rule_text({**row, "peer": _get(row, "cidr"), "direction": "ingress"}, w)),
        w.field("opened", f"{w.when(_get(row, 'opened_at'))} {w('by')} "
                          f"{_v(_get(row, 'opened_by'))}"),
        w.field("closed", w("still_open") if still else w.when(_get(row, "closed_at"))),
    ]
    if _get(row, "kind") != "source":
        what = _get(row, "gap") if _get(row, "kind") == "gap" else _get(row, "verdict")
        title = w("conn.gap", gap=_v(what))
        return Box(title, (w.field("conn.detail", _v(_get(row, "detail"))), *window))
    verdict = _get(row, "verdict")
    known = _get(row, "known_as")
    n = lambda key: _v(_get(row, key))  # noqa: E731
    who = _v(known) if not is_missing(known) and known else w("conn.unknown")
    seen = f"{w.when(_get(row, 'first_seen'))} - {w.when(_get(row, 'last_seen'))}"
    lines = [
        w.field("conn.known", f"{n('source')} ({who})"),
        w.field("conn.flows", w("conn.flows.count", accepted=n("accepted"), rejected=n("rejected"))),
        w.field("conn.bytes", w("conn.bytes.count", bytes_in=n("bytes_in"),
                                bytes_out=n("bytes_out"))),
        w.field("conn.seen", seen),
        w.field("conn.around", w("conn.around.count", before=n("before_rejected"),
                                 after_ok=n("after_accepted"), after_no=n("after_rejected"))),
        w.field("conn.interfaces", n("interfaces")),
    ]
    if not is_missing(_get(row, "finding_ids")) and _get(row, "finding_ids"):
        lines.append(w.field("conn.findings", n("finding_ids")))
    label = w.t.get(f"v.{verdict}", None) or _v(verdict)
    return Box(w("conn.title", verdict=label, source=n("source")), (*lines, *window))


def summary(changes: pd.DataFrame | None, windows: pd.DataFrame | None, findings: pd.DataFrame | None,
            settings: Settings, since: object = None, until: object = None) -> Box:
    """The audit in one box: counts, then one line per exposure window and per finding (highest first)."""
    w = _Words(settings)
    change_rows, window_rows, finding_rows = ([] if f is None else records(f) for f in (changes, windows, findings))
    lines = [w.field("period", f"{w.when(since)} - {w.when(until)}")]
    failed = sum(1 for r in change_rows if not is_missing(r.get("error_code")))
    groups = {r.get("group_id") for r in change_rows if not is_missing(r.get("group_id"))}
    actors = {r.get("actor") for r in change_rows if not is_missing(r.get("actor"))}
    lines.append(w.field("changes", w("changes.count", n=len(change_rows), failed=failed, groups=len(groups), actors=len(actors))))
    still = sum(1 for r in window_rows if r.get("still_open") is True)
    lines.append(w.field("windows", w("windows.count", n=len(window_rows), open=still)))
    for r in window_rows[:LIST_LIMIT]:
        end = w("still_open") if r.get("still_open") is True else w.when(r.get("closed_at"))
        lines.append(f"- {_group(r)} {_v(r.get('exposed_ports'))} {_v(r.get('cidr'))}: {w.when(r.get('opened_at'))} - {end} {_v(r.get('opened_by'))}")
    if len(window_rows) > LIST_LIMIT:
        lines.append(w("and_more", n=len(window_rows) - LIST_LIMIT))
    if findings is not None:
        ordered = sorted(finding_rows, key=lambda r: -(_float(r.get("severity"))))
        lines.append(w.field("findings", str(len(ordered)) if ordered else w("none")))
        for r in ordered[:LIST_LIMIT]:
            lines.append(f"- {_severity(r, w)} {_v(r.get('type'))} {_v(r.get('instance_id'))} {w.when(r.get('updated_at'))}")
        if len(ordered) > LIST_LIMIT:
            lines.append(w("and_more", n=len(ordered) - LIST_LIMIT))
    return Box(w("summary.title"), tuple(lines))


def _float(value: object) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return 0.0 if number != number else number


def api_call(detail: Mapping, settings: Settings) -> Box:
    """Any other watched CloudTrail call (SNS topics and subscriptions): who, what, and its parameters."""
    w = _Words(settings)
    event = _get(detail, "eventName")
    key = f"api.{event}"
    title = w(key) if key in w.t else w("api.title", event=_v(event))
    failed = not is_missing(_get(detail, "errorCode"))
    if failed:
        title = f"{title} - {w('failed')}"
    identity = _get(detail, "userIdentity") or {}
    params = _get(detail, "requestParameters") or {}
    response = _get(detail, "responseElements") or {}
    lines = [
        w.field("time", w.when(_get(detail, "eventTime"))),
        w.field("account", f"{_v(_get(detail, 'recipientAccountId'))} / {_v(_get(detail, 'awsRegion'))}"),
        w.field("actor", _v(_get(identity, "arn") or _get(identity, "principalId"))),
        w.field("source_ip", _v(_get(detail, "sourceIPAddress"))),
    ]
    for key, label in (("topicArn", "topic"), ("protocol", "protocol"), ("endpoint", "endpoint")):
        if not is_missing(_get(params, key)):
            lines.append(w.field(label, neutralize(_get(params, key))))
    subscription = _get(params, "subscriptionArn") or _get(response, "subscriptionArn")
    if not is_missing(subscription):
        lines.append(w.field("subscription", neutralize(subscription)))
    if failed:
        lines.append(w.field("error", f"{neutralize(_get(detail, 'errorCode'))} {_v(_get(detail, 'errorMessage'))}"))
    lines.append(w.field("event", f"{_v(event)} {_v(_get(detail, 'eventID'))}"))
    lines.append(w("parameters") + ":")
    code = neutralize(json.dumps(params, indent=2, ensure_ascii=False, sort_keys=True, default=str), limit=8_000, multiline=True)
    return Box(title, tuple(lines), code)


def detection_hit(hit: Mapping, settings: Settings) -> Box:
    """One detection hit (a row of `Investigation.detect()`, or `detections.evaluate` in the Lambda).

    A failed call says so in the title: it is an attempt, not the change.
    """
    from ..analysis.detections import BY_ID

    w = _Words(settings)
    detection = BY_ID.get(str(_get(hit, "detection")))
    title = detection.title(settings.language) if detection else _v(_get(hit, "title"))
    severity = str(_get(hit, "severity") or "").capitalize()
    label = w.t.get(f"sev.{severity}", _v(_get(hit, "severity")))
    attempt = _get(hit, "outcome") == "attempt"
    heading = w("det.title", severity=label, title=title) + (f" - {w('det.attempt')}" if attempt else "")
    lines = [
        w.field("time", w.when(_get(hit, "event_time"))),
        w.field("account", _where(hit)),
        w.field("det.detail", _v(_get(hit, "detail"))),
        w.field("det.target", _v(_get(hit, "target"))),
        w.field("det.outcome", w("det.attempt") if attempt else w("det.success")),
        w.field("actor", _v(_get(hit, "actor"))),
        w.field("tool", _v(_get(hit, "tool"))),
        w.field("source_ip", _v(_get(hit, "source_ip"))),
        w.field("det.technique", _v(_get(hit, "technique"))),
    ]
    if attempt and not is_missing(_get(hit, "error_code")):
        lines.append(w.field("error", neutralize(_get(hit, "error_code"))))
    lines.append(w.field("event", f"{_v(_get(hit, 'event_name'))} {_v(_get(hit, 'event_id'))}"))
    return Box(heading, tuple(lines))
