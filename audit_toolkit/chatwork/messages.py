"""Chatwork messages for findings: pure functions from rows (dicts) to `Box`es, in Japanese or
English.

Inputs are rows as the analysis returns them (security_groups.CHANGE_COLUMNS,
exposure.WINDOW_COLUMNS, detections.HIT_COLUMNS, guardduty_finding.FINDING_COLUMNS) or plain
mappings with the same fields. Every field is optional: a missing one shows as "-". Every value goes
through `neutralize`; only the fixed wording below is trusted text. Times are shown in
`Settings.display_tz`.

What an on-call engineer reads first: the title starts with the severity and says what happened
(`【高】SSH(22) をインターネットに公開`), with the rule's real ports and protocol. Details follow, then
links to the AWS console (the security group, the CloudTrail event, the GuardDuty finding) in the
event's region. In `ja` no English is written except values taken from the logs and names of
products; `en` is English throughout.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from ..analysis.events import records
from ..analysis.security_groups import port_span
from ..evidence.guardduty_finding import severity_label
from ..phrases import TEXT as SHARED
from ..phrases import counted
from ..settings import Settings
from .countries import JA as COUNTRIES_JA
from .notation import Box, is_missing, neutralize

if TYPE_CHECKING:  # DataFrames reach `summary` and `digest` only; the Lambda renders without pandas
    import pandas as pd

SEVERITY_ORDER = ("critical", "high", "medium", "low", "info")
# Names of the ports an engineer knows by name; any other port is its number.
PORT_NAMES = {
    22: "SSH",
    3389: "RDP",
    23: "Telnet",
    3306: "MySQL",
    5432: "PostgreSQL",
    6379: "Redis",
    27017: "MongoDB",
    9200: "Elasticsearch",
    445: "SMB",
    5900: "VNC",
}

# Chat's wording, by language; TEXT adds the shared catalogue (phrases.TEXT). Nothing here may
# contain a bracket (Box checks).
CHAT = {
    "ja": {
        "sev.critical": "重大",
        "sev.high": "高",
        "sev.medium": "中",
        "sev.low": "低",
        "sev.info": "情報",
        "headline": "【{severity}】{what}",
        "sample": "【サンプル】",
        # security-group changes: what was done, and what was tried and failed
        "sg.exposed": "{ports} をインターネットに公開",
        "sg.exposure_closed": "{ports} のインターネット公開を終了",
        "sg.exposure_failed": "{ports} の公開を試みて失敗",
        "sg.authorize.ingress": "インバウンドルールを追加: {ports}",
        "sg.authorize.egress": "アウトバウンドルールを追加: {ports}",
        "sg.revoke.ingress": "インバウンドルールを削除: {ports}",
        "sg.revoke.egress": "アウトバウンドルールを削除: {ports}",
        "sg.modify": "ルールを変更: {ports}",
        "sg.update_description": "ルールの説明を変更: {ports}",
        "sg.create_group": "セキュリティグループを作成",
        "sg.delete_group": "セキュリティグループを削除",
        "sg.revoke_unmatched": "ルール削除の指定に一致するルールがなく、何も削除されませんでした",
        "sg.other": "セキュリティグループを操作",
        "sg.failed.authorize.ingress": "インバウンドルールの追加に失敗: {ports}",
        "sg.failed.authorize.egress": "アウトバウンドルールの追加に失敗: {ports}",
        "sg.failed.revoke.ingress": "インバウンドルールの削除に失敗: {ports}",
        "sg.failed.revoke.egress": "アウトバウンドルールの削除に失敗: {ports}",
        "sg.failed.modify": "ルールの変更に失敗: {ports}",
        "sg.failed.update_description": "ルールの説明の変更に失敗: {ports}",
        "sg.failed.create_group": "セキュリティグループの作成に失敗",
        "sg.failed.delete_group": "セキュリティグループの削除に失敗",
        "sg.failed.other": "セキュリティグループの操作に失敗",
        "all_ports": "全ポート",
        "all_traffic": "全トラフィック",
        "time": "日時",
        "account": "アカウント",
        "group": "セキュリティグループ",
        "rule": "ルール",
        "rule_id": "ルールID",
        "description": "説明",
        "actor": "実行者",
        "actor_arn": "実行者のARN",
        "tool": "ツール",
        "source_ip": "送信元IP",
        "error": "エラー",
        "event": "イベント",
        "link.group": "グループを開く",
        "link.event": "CloudTrail のイベント",
        "link.finding": "GuardDuty の検出結果",
        "window.open": "{ports} をインターネットに公開中",
        "window.closed": "{ports} のインターネット公開 (終了)",
        "opened": "公開",
        "closed": "終了",
        "still_open": "公開中 (証跡の終わりまで)",
        "before_evidence": "証跡の開始前から公開",
        "duration": "期間",
        "by": "実行者",
        "from": "送信元",
        "reason.revoked": "ルール削除",
        "reason.modified": "ルール変更",
        "reason.group deleted": "グループ削除",
        "gd.title": "GuardDuty の検出: {title}",
        "severity": "重要度",
        "type": "種類",
        "instance": "インスタンス",
        "remote_ip": "相手IP",
        "port": "ポート",
        "country": "国",
        "updated": "更新",
        "finding_id": "ID",
        "count": "回数",
        "times": "{n} 回",
        "corr.title": "公開中に攻撃を検出: {type}",
        "corr.during": "公開期間中に検出されました",
        "summary.title": "監査サマリー",
        "summary.period": "{since} から {until} までの証跡です。",
        "summary.changes": "セキュリティグループの変更は {n} 件 (うち失敗 {failed} 件) で、対象のグループは "
        "{groups} 個、実行者は {actors} 人でした。",
        "summary.windows": "インターネットへの公開は {n} 件で、うち {open} 件は証跡の終わりまで公開中です。",
        "summary.window": "{group} の {ports} ({cidr}) を {opened} に {who} が公開し、{end}。",
        "summary.window_unlogged": "{group} の {ports} ({cidr}) は{when}記録された操作なしに公開され、{end}。",
        "summary.at": " {time} に",
        "summary.before_evidence": "証跡の開始前に",
        "summary.window_end": "{closed} に終了しました",
        "summary.window_still": "まだ公開中です",
        "summary.findings": "GuardDuty の検出は {n} 件です。",
        "summary.no_findings": "GuardDuty の検出はありません。",
        "summary.finding": "重要度 {severity} の {type} が {instance} で検出されました (更新 {updated})。",
        "and_more": "ほか {n} 件はレポートを参照してください。",
        "digest.title": "監査ダイジェスト: {n} 件",
        "digest.day": "監査ダイジェスト {day}: {n} 件",
        "digest.period": "{since} から {until} まで",
        "digest.kind": "{kind}: {n} 件 ({bands})",
        "digest.band": "{severity} {n} 件",
        "list_sep": "、",
        "digest.top": "重要度の高いもの:",
        "digest.none": "報告するものはありません。",
        "no_day": "日時不明",
        "kind.sg-changes": "セキュリティグループの変更",
        "kind.ssh-exposure": "インターネット公開",
        "kind.detections": "検知",
        "kind.guardduty": "GuardDuty の検出",
        "api.title": "{event} が実行されました",
        "parameters": "リクエストパラメータ",
        "api.Subscribe": "SNS サブスクリプションを追加",
        "api.Unsubscribe": "SNS サブスクリプションを削除",
        "api.SetSubscriptionAttributes": "SNS サブスクリプションを変更",
        "api.ConfirmSubscription": "SNS サブスクリプションを確認",
        "api.CreateTopic": "SNS トピックを作成",
        "api.DeleteTopic": "SNS トピックを削除",
        "api.SetTopicAttributes": "SNS トピックの設定を変更",
        "api.failed": "{what} (失敗)",
        "topic": "トピック",
        "protocol": "プロトコル",
        "endpoint": "エンドポイント",
        "subscription": "サブスクリプション",
        "det.title": "検知: {title}",
        "det.attempt_title": "検知 (未遂): {title}",
        "det.attempt": "未遂 (操作は失敗)",
        "det.detail": "内容",
        "det.target": "対象",
        "det.technique": "MITRE ATT&CK",
        "det.outcome": "結果",
        "det.success": "成功",
        "sso": "{name} (SSO)",
        "root": "ルートユーザー ({account})",
        "tool.other": "その他",
        "tool.unknown": "不明",
        "tool.console": "マネジメントコンソール",
        "tool.AWS service": "AWS のサービス",
        "tool.AWS internal": "AWS 内部",
        "days": "{n}日",
        "hours": "{n}時間",
        "minutes": "{n}分",
        "seconds": "{n}秒",
        "sep": "",
        "reason.prefix list modified": "プレフィックスリスト変更",
        "window.unknown": "{ports} を到達範囲不明の相手に公開",
        "caveat": "不確実",
        "caveat.order": "同じ秒の変更の順序を証跡が証明しないため、公開が続く順序を採用",
        "caveat.reach": "相手（プレフィックスリストの内容、または読めないアドレス）が証跡から分からないため、到達範囲は不明",
        "reason.closed, not logged": "記録された操作なし (後の状態にルールなし)",
        "reason.group deleted, not logged": "記録された操作なしのグループ削除",
        "from_state": "{at} 以前から公開 (AWS Config / EC2 の状態より, 記録された操作なし)",
        "from_config": "{after} から {at} の間に公開 (AWS Config の履歴より, 記録された操作なし)",
        "kind.connections": "公開中のポートへの接続",
        "conn.title": "公開中の {ports} に {source} から接続: {verdict}",
        "conn.gap": "フローログで確認できない範囲: {gap}",
        "conn.none": "公開中の {ports} に外部からの接続なし",
        "v.session": "データを送受信したセッション",
        "v.accepted, no data": "接続のみ (データなし)",
        "v.rejected only": "すべて拒否",
        "gap.no interface": "グループ内のネットワークインターフェイスが不明",
        "gap.no records": "フローログの記録なし",
        "gap.NODATA": "通信の記録なし (NODATA)",
        "gap.SKIPDATA": "記録の欠落 (SKIPDATA)",
        "gap.missing hours": "ファイルのない時間帯",
        "conn.source": "送信元",
        "conn.unknown": "不明なアドレス",
        "conn.actor_opened": "公開した実行者のアドレス",
        "conn.actor_closed": "公開を終了した実行者のアドレス",
        "conn.known_network": "既知のネットワーク {net}",
        "conn.flows": "フロー",
        "conn.flows.count": "許可 {accepted} 件、拒否 {rejected} 件",
        "conn.bytes": "バイト数",
        "conn.bytes.count": "受信 {bytes_in}、送信 {bytes_out}",
        "conn.seen": "観測",
        "conn.around": "公開前後",
        "conn.around.count": "公開前に拒否 {before} 件、"
        "終了後に許可 {after_ok} 件・拒否 {after_no} 件",
        "conn.interfaces": "ネットワークインターフェイス",
        "conn.instances": "インスタンス",
        "conn.findings": "GuardDuty の検出",
    },
    "en": {
        "sev.critical": "CRITICAL",
        "sev.high": "HIGH",
        "sev.medium": "MEDIUM",
        "sev.low": "LOW",
        "sev.info": "INFO",
        "headline": "{severity}: {what}",
        "sample": "SAMPLE ",
        "sg.exposed": "{ports} opened to the internet",
        "sg.exposure_closed": "{ports} no longer open to the internet",
        "sg.exposure_failed": "Attempt to open {ports} to the internet failed",
        "sg.authorize.ingress": "Inbound rule added: {ports}",
        "sg.authorize.egress": "Outbound rule added: {ports}",
        "sg.revoke.ingress": "Inbound rule removed: {ports}",
        "sg.revoke.egress": "Outbound rule removed: {ports}",
        "sg.modify": "Rule modified: {ports}",
        "sg.update_description": "Rule description changed: {ports}",
        "sg.create_group": "Security group created",
        "sg.delete_group": "Security group deleted",
        "sg.revoke_unmatched": "Revoke matched no rule: nothing was removed",
        "sg.other": "Security group changed",
        "sg.failed.authorize.ingress": "Adding an inbound rule failed: {ports}",
        "sg.failed.authorize.egress": "Adding an outbound rule failed: {ports}",
        "sg.failed.revoke.ingress": "Removing an inbound rule failed: {ports}",
        "sg.failed.revoke.egress": "Removing an outbound rule failed: {ports}",
        "sg.failed.modify": "Modifying a rule failed: {ports}",
        "sg.failed.update_description": "Changing a rule description failed: {ports}",
        "sg.failed.create_group": "Creating a security group failed",
        "sg.failed.delete_group": "Deleting a security group failed",
        "sg.failed.other": "Security group call failed",
        "all_ports": "all ports",
        "all_traffic": "all traffic",
        "time": "Time",
        "account": "Account",
        "group": "Security group",
        "rule": "Rule",
        "rule_id": "Rule id",
        "description": "Description",
        "actor": "Actor",
        "actor_arn": "Actor ARN",
        "tool": "Tool",
        "source_ip": "Source IP",
        "error": "Error",
        "event": "Event",
        "link.group": "Open the group",
        "link.event": "CloudTrail event",
        "link.finding": "GuardDuty finding",
        "window.open": "{ports} open to the internet",
        "window.closed": "{ports} was open to the internet (closed)",
        "opened": "Opened",
        "closed": "Closed",
        "still_open": "still open (at the end of the evidence)",
        "before_evidence": "Open before the evidence begins",
        "duration": "Duration",
        "by": "by",
        "from": "from",
        "reason.revoked": "rule revoked",
        "reason.modified": "rule modified",
        "reason.group deleted": "group deleted",
        "gd.title": "GuardDuty finding: {title}",
        "severity": "Severity",
        "type": "Type",
        "instance": "Instance",
        "remote_ip": "Remote IP",
        "port": "Port",
        "country": "Country",
        "updated": "Updated",
        "finding_id": "Id",
        "count": "Count",
        "times": "{n} times",
        "times.one": "{n} time",
        "corr.title": "Attack while exposed: {type}",
        "corr.during": "Seen during the exposure window",
        "summary.title": "Audit summary",
        "summary.period": "The evidence runs from {since} to {until}.",
        # a count not named `n` has no `.one` form: it follows its noun ("groups: 1", not "1 groups")
        "summary.changes": "There were {n} security-group changes (failed: {failed}; groups: {groups}; "
        "actors: {actors}).",
        "summary.changes.one": "There was {n} security-group change (failed: {failed}; groups: {groups}; "
        "actors: {actors}).",
        "summary.windows": "{n} exposures to the internet; "
        "{open} still open at the end of the evidence.",
        "summary.windows.one": "{n} exposure to the internet; {open} still open at the end of the evidence.",
        "summary.window": "{who} opened {ports} of {group} to {cidr} at {opened}; {end}.",
        "summary.window_unlogged": "{ports} of {group} was opened to {cidr} {when} by no logged call; {end}.",
        "summary.at": "at {time}",
        "summary.before_evidence": "before the evidence",
        "summary.window_end": "closed at {closed}",
        "summary.window_still": "it is still open",
        "summary.findings": "GuardDuty reported {n} findings.",
        "summary.findings.one": "GuardDuty reported {n} finding.",
        "summary.no_findings": "GuardDuty reported nothing.",
        "summary.finding": "{type} of severity {severity} on {instance} (updated {updated}).",
        "and_more": "{n} more are in the report.",
        "digest.title": "Audit digest: {n} items",
        "digest.title.one": "Audit digest: {n} item",
        "digest.day": "Audit digest {day}: {n} items",
        "digest.day.one": "Audit digest {day}: {n} item",
        "digest.period": "{since} to {until}",
        "digest.kind": "{kind}: {n} ({bands})",
        "digest.band": "{n} {severity}",
        "list_sep": ", ",
        "digest.top": "Most severe:",
        "digest.none": "Nothing to report.",
        "no_day": "undated",
        "kind.sg-changes": "Security-group changes",
        "kind.ssh-exposure": "Internet exposure",
        "kind.detections": "Detections",
        "kind.guardduty": "GuardDuty findings",
        "api.title": "{event} was called",
        "parameters": "Request parameters",
        "reason.prefix list modified": "prefix list modified",
        "window.unknown": "{ports} open to a peer of unknown reach",
        "caveat": "Uncertain",
        "caveat.order": "the evidence does not prove the order of changes in one second: "
        "the order that keeps it open was taken",
        "caveat.reach": "the evidence does not say what the peer holds (a prefix list's entries, or an address it cannot read): its reach is unknown",
        "reason.closed, not logged": "no logged call: a later state lacks the rule",
        "reason.group deleted, not logged": "group deleted with no logged call",
        "from_state": "open since at least {at} (AWS Config / EC2 state; no logged call)",
        "from_config": "between {after} and {at} (AWS Config history; no logged call)",
        "kind.connections": "Connections through open ports",
        "conn.title": "{source} reached {ports} while open: {verdict}",
        "conn.gap": "Flow logs cannot tell: {gap}",
        "conn.none": "No public address came through {ports} while open",
        "v.session": "session with data",
        "v.accepted, no data": "accepted, no data",
        "v.rejected only": "rejected only",
        "gap.no interface": "no network interface known in the group",
        "gap.no records": "no flow log records",
        "gap.NODATA": "no traffic recorded (NODATA)",
        "gap.SKIPDATA": "records skipped (SKIPDATA)",
        "gap.missing hours": "hours without files",
        "conn.source": "Source",
        "conn.unknown": "an address nobody knows",
        "conn.actor_opened": "the address the window was opened from",
        "conn.actor_closed": "the address the window was closed from",
        "conn.known_network": "known network {net}",
        "conn.flows": "Flows",
        "conn.flows.count": "{accepted} accepted, {rejected} rejected",
        "conn.bytes": "Bytes",
        "conn.bytes.count": "{bytes_in} in, {bytes_out} out",
        "conn.seen": "Seen",
        "conn.around": "Around the window",
        "conn.around.count": "{before} rejected before it opened, {after_ok} accepted and "
        "{after_no} rejected after it closed",
        "conn.interfaces": "Network interfaces",
        "conn.instances": "Instances",
        "conn.findings": "GuardDuty findings",
        "api.Subscribe": "SNS subscription added",
        "api.Unsubscribe": "SNS subscription removed",
        "api.SetSubscriptionAttributes": "SNS subscription changed",
        "api.ConfirmSubscription": "SNS subscription confirmed",
        "api.CreateTopic": "SNS topic created",
        "api.DeleteTopic": "SNS topic deleted",
        "api.SetTopicAttributes": "SNS topic attributes changed",
        "api.failed": "{what} (failed)",
        "topic": "Topic",
        "protocol": "Protocol",
        "endpoint": "Endpoint",
        "subscription": "Subscription",
        "det.title": "Detection: {title}",
        "det.attempt_title": "Detection (attempt): {title}",
        "det.attempt": "attempt (the call failed)",
        "det.detail": "What",
        "det.target": "Target",
        "det.technique": "MITRE ATT&CK",
        "det.outcome": "Outcome",
        "det.success": "done",
        "sso": "{name} (SSO)",
        "root": "root user ({account})",
        "days": "{n}d",
        "hours": "{n}h",
        "minutes": "{n}m",
        "seconds": "{n}s",
        "sep": " ",
    },
}
TEXT = {language: {**words, **SHARED[language]} for language, words in CHAT.items()}
LIST_LIMIT = 200  # lines of one kind in a summary before "and n more"
DIGEST_TOP = 10  # items a digest lists; the rest are in the report

# What may appear in a console link: anything else from a log gets no link.
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}\Z")
_GROUP_ID = re.compile(r"^sg-[0-9a-f]{8,17}\Z")
_EVENT_ID = re.compile(r"^[0-9a-fA-F-]{8,64}\Z")
_FINDING_ID = re.compile(r"^[0-9a-f]{8,64}\Z")


class _Words:
    def __init__(self, settings: Settings) -> None:
        self.t = TEXT[settings.language]  # Settings checked the language
        self.language = settings.language
        self.tz = ZoneInfo(settings.display_tz)

    def __call__(self, key: str, **values: object) -> str:
        # English: "1 finding", not "1 findings" (a count other than `n`: phrases.COUNTS)
        return self.t[counted(self.t, key, values)].format(**values)

    def field(self, key: str, value: str) -> str:
        return f"{self.t[key]}: {value}"

    def headline(self, severity: str, what: str, sample: bool = False) -> str:
        label = self.t.get(f"sev.{severity}", self.t["sev.info"])
        return self("headline", severity=label, what=(self.t["sample"] if sample else "") + what)

    def when(self, value: object) -> str:
        if is_missing(value):
            return "-"
        ts = _instant(value)
        if ts is None or not 1970 <= ts.year <= 9999:  # '/1' would be year 1: show the text it is
            return neutralize(value)
        ts = ts.replace(tzinfo=timezone.utc) if ts.tzinfo is None else ts
        try:
            return ts.astimezone(self.tz).strftime("%Y-%m-%d %H:%M:%S %Z")
        except (OverflowError, ValueError):  # 9999-12-31T23:00Z is past the last day in Tokyo
            return neutralize(value)

    def duration(self, value: object) -> str:
        if is_missing(value):
            return "-"
        if not isinstance(value, timedelta):  # pd.Timedelta is one
            return neutralize(value)
        seconds = int(value.total_seconds())
        days, rest = divmod(max(seconds, 0), 86_400)
        hours, rest = divmod(rest, 3_600)
        minutes, secs = divmod(rest, 60)
        parts = [
            self(k, n=n) for k, n in (("days", days), ("hours", hours), ("minutes", minutes)) if n
        ]
        if secs or not parts:
            parts.append(self("seconds", n=secs))
        return self.t["sep"].join(parts)

    def country(self, name: object) -> str:
        """GuardDuty's English country name, in Japanese for `ja` (CLDR); an unknown one as
        written."""
        if self.language == "ja" and isinstance(name, str) and name in COUNTRIES_JA:
            return COUNTRIES_JA[name]
        return neutralize(name)


def _instant(value: object) -> datetime | None:
    """A time from a datetime (pd.Timestamp is one) or ISO 8601 text; None when it is neither."""
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value).strip())
    except ValueError:
        return None


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
    except (TypeError, ValueError, OverflowError):
        return None


def port_set(row: Mapping, w: _Words, named: bool = True) -> str:
    """The rule's real ports and protocol: `SSH(22)` (`TCP 22` unless `named`), `TCP 20-25`,
    `UDP 53`, `全ポート`."""
    protocol = _get(row, "protocol")
    if protocol == "-1":
        return w("all_ports")
    if is_missing(protocol):
        return "-"
    low, high = _port(_get(row, "from_port")), _port(_get(row, "to_port"))
    name = neutralize(str(protocol).upper(), limit=20)
    if low is None or low < 0 or (low == 0 and high == 65535):
        return f"{name} {w('all_ports')}"
    if high not in (None, low):
        return f"{name} {port_span(name, low, high)}"
    if named and name == "TCP" and low in PORT_NAMES:
        return f"{PORT_NAMES[low]}({low})"
    return f"{name} {low}"


def rule_text(row: Mapping, w: _Words) -> str:
    """`TCP 22 ← 0.0.0.0/0` for ingress, `→ peer` for egress."""
    what = w("all_traffic") if _get(row, "protocol") == "-1" else port_set(row, w, named=False)
    arrow = "\u2192" if _get(row, "direction") == "egress" else "\u2190"
    return f"{what} {arrow} {_v(_get(row, 'peer'))}"


def _group(row: Mapping) -> str:
    name = _get(row, "group_name")
    return _v(_get(row, "group_id")) + ("" if is_missing(name) else f" ({neutralize(name)})")


def _where(row: Mapping) -> str:
    return f"{_v(_get(row, 'account'))} / {_v(_get(row, 'region'))}"


_SESSION = re.compile(r"^(?P<role>.+) \(session (?P<session>[^()]*)\)(?P<via> via .+)?$")
_SSO = re.compile(r"^(?P<name>.+) \(SSO via [^()]*\)(?P<via> via .+)?$")
_ROOT = re.compile(r"^root(?: \((?P<account>\d+)\))?(?P<via> via .+)?$")


def who(row: Mapping, w: _Words) -> str:
    """The actor as a person reads it (actors.resolve's wording, shortened): `ops-admin /
    mallory` for a role session, `carol@example.com (SSO)` for an SSO user, a user's name; the
    full ARN goes on a line of its own."""
    actor = _get(row, "actor")
    if is_missing(actor):
        return "-"
    text = str(actor)
    if match := _SSO.match(text):
        return neutralize(w("sso", name=match["name"]) + (match["via"] or ""))
    if match := _SESSION.match(text):
        role = match["role"].rsplit("/", 1)[-1]
        return neutralize(f"{role} / {match['session']}{match['via'] or ''}")
    if match := _ROOT.match(text):
        return neutralize(w("root", account=match["account"] or "-") + (match["via"] or ""))
    if text.startswith("arn:") and ":user/" in text:
        return neutralize(text.rsplit("/", 1)[-1])
    return neutralize(text)


def tool(row: Mapping, w: _Words, key: str = "tool") -> str:
    """The tool (actors.tool_of): product names as they are, the toolkit's own words translated."""
    value = _get(row, key)
    return w.t.get(f"tool.{value}") or _v(value)


def _who_lines(row: Mapping, w: _Words) -> list[str]:
    lines = [w.field("actor", who(row, w))]
    if not is_missing(_get(row, "actor_arn")):
        lines.append(w.field("actor_arn", neutralize(_get(row, "actor_arn"))))
    return lines


def _console(region: object) -> str | None:
    """The console of the region's partition (GovCloud and China have their own domains, where the
    link's `region=` picks the region)."""
    if not isinstance(region, str) or not _REGION.match(region):
        return None
    if region.startswith("us-gov-"):
        return "https://console.amazonaws-us-gov.com"
    if region.startswith("cn-"):
        return "https://console.amazonaws.cn"
    return f"https://{region}.console.aws.amazon.com"


def group_link(row: Mapping) -> str | None:
    base, group = _console(_get(row, "region")), _get(row, "group_id")
    if base is None or not isinstance(group, str) or not _GROUP_ID.match(group):
        return None
    return f"{base}/ec2/home?region={row['region']}#SecurityGroup:groupId={group}"


def event_link(row: Mapping, key: str = "event_id") -> str | None:
    """CloudTrail's event history, opened on this event by its id."""
    base, event = _console(_get(row, "region")), _get(row, key)
    if base is None or not isinstance(event, str) or not _EVENT_ID.match(event):
        return None
    return f"{base}/cloudtrailv2/home?region={row['region']}#/events/{event}"


def finding_link(row: Mapping) -> str | None:
    base, finding = _console(_get(row, "region")), _get(row, "id")
    if base is None or not isinstance(finding, str) or not _FINDING_ID.match(finding):
        return None
    return f"{base}/guardduty/home?region={row['region']}#/findings?macros=current&fId={finding}"


def _links(w: _Words, *pairs: tuple[str, str | None]) -> list[str]:
    return [w.field(key, url) for key, url in pairs if url]


def sg_severity(row: Mapping, exposed: list[int] | None) -> str:
    """An opening to the internet is high, a failed attempt at one medium, its closing low, the
    rest info."""
    failed = not is_missing(_get(row, "error_code"))
    action = _get(row, "action")
    if exposed and action in ("authorize", "modify"):
        return "medium" if failed else "high"
    if exposed and action == "revoke" and not failed:
        return "low"
    return "info"


def sg_change(row: Mapping, settings: Settings, exposed: list[int] | None = None) -> Box:
    """One security-group rule change (a row of `Investigation.sg_changes()`).

    `exposed` are the watched ports the change lets in from the internet (exposure.exposed_ports).
    """
    w = _Words(settings)
    action, direction = _get(row, "action"), _get(row, "direction")
    failed = not is_missing(_get(row, "error_code"))
    ports = port_set(row, w)
    severity = sg_severity(row, exposed)
    if exposed and action in ("authorize", "modify"):
        what = w("sg.exposure_failed" if failed else "sg.exposed", ports=ports)
    elif exposed and action == "revoke" and not failed:
        what = w("sg.exposure_closed", ports=ports)
    else:
        prefix = "sg.failed." if failed else "sg."
        key = next(
            (k for k in (f"{prefix}{action}.{direction}", f"{prefix}{action}") if k in w.t),
            f"{prefix}other",
        )
        what = w(key, ports=ports)
    lines = [
        w.field("time", w.when(_get(row, "event_time"))),
        w.field("account", _where(row)),
        w.field("group", _group(row)),
    ]
    if action not in ("create_group", "delete_group"):
        lines.append(w.field("rule", rule_text(row, w)))
        if not is_missing(_get(row, "rule_id")):
            lines.append(w.field("rule_id", neutralize(_get(row, "rule_id"))))
    if not is_missing(_get(row, "description")):
        lines.append(w.field("description", neutralize(_get(row, "description"))))
    lines += _who_lines(row, w)
    lines += [w.field("tool", tool(row, w)), w.field("source_ip", _v(_get(row, "source_ip")))]
    if failed:
        lines.append(
            w.field(
                "error", f"{neutralize(_get(row, 'error_code'))} {_v(_get(row, 'error_message'))}"
            )
        )
    lines.append(w.field("event", f"{_v(_get(row, 'event_name'))} {_v(_get(row, 'event_id'))}"))
    lines += _links(w, ("link.group", group_link(row)), ("link.event", event_link(row)))
    return Box(w.headline(severity, what), tuple(lines))


def _window_ports(row: Mapping, w: _Words) -> str:
    return (
        port_set(row, w)
        if not is_missing(_get(row, "protocol"))
        else _v(_get(row, "exposed_ports"))
    )


def exposure_window(row: Mapping, settings: Settings) -> Box:
    """One exposure window (a row of `Investigation.ssh_exposure()`)."""
    w = _Words(settings)
    still_open = _get(row, "still_open") is True
    what = w("window.open" if still_open else "window.closed", ports=_window_ports(row, w))
    lines = [
        w.field("account", _where(row)),
        w.field("group", _group(row)),
        w.field("rule", rule_text({**row, "peer": _get(row, "cidr")}, w)),
    ]
    opener = {"actor": _get(row, "opened_by"), "actor_arn": _get(row, "opened_by_arn")}
    unknown = _get(row, "reach") == "unknown"
    if unknown:
        what = w("window.unknown", ports=_window_ports(row, w))
        lines.append(w.field("caveat", w("caveat.reach")))
    if _get(row, "ambiguous_order") is True:
        lines.append(w.field("caveat", w("caveat.order")))
    how = _get(row, "opened_how")
    if how == "state":  # known from state only: the bound on its opening, not 'before the evidence'
        lines.append(w.field("opened", w("from_state", at=w.when(_get(row, "opened_at")))))
    elif how == "config" and is_missing(_get(row, "opened_by")):
        lines.append(w.field("opened", w("from_config", after=w.when(_get(row, "opened_after")),
                                         at=w.when(_get(row, "opened_at")))))
    elif _get(row, "open_before_evidence") is True:
        lines.append(w("before_evidence"))
    else:
        lines.append(
            w.field(
                "opened",
                f"{w.when(_get(row, 'opened_at'))} {w('by')} {who(opener, w)}"
                f" ({w('from')} {_v(_get(row, 'opened_from_ip'))}, {tool(row, w, 'opened_tool')})",
            )
        )
    if still_open:
        lines.append(w.field("closed", w("still_open")))
    else:
        reason = _get(row, "close_reason")
        reason_text = w.t.get(f"reason.{reason}") or _v(reason)
        closer = {"actor": _get(row, "closed_by")}
        lines.append(
            w.field(
                "closed",
                f"{w.when(_get(row, 'closed_at'))} {w('by')} {who(closer, w)}"
                f" ({w('from')} {_v(_get(row, 'closed_from_ip'))}, {reason_text})",
            )
        )
    lines.append(w.field("duration", w.duration(_get(row, "duration"))))
    if not is_missing(_get(row, "rule_id")):
        lines.append(w.field("rule_id", neutralize(_get(row, "rule_id"))))
    if not is_missing(opener["actor_arn"]):
        lines.append(w.field("actor_arn", neutralize(opener["actor_arn"])))
    lines += _links(
        w,
        ("link.group", group_link(row)),
        ("link.event", event_link(row, "opened_event_id")),
        ("link.event", event_link(row, "closed_event_id")),
    )
    return Box(w.headline("high" if still_open else "medium", what), tuple(lines))


def finding_severity(finding: Mapping) -> str:
    """A finding's band as a severity word (critical..low); info when its severity cannot be
    read."""
    label = _get(finding, "severity_label")
    label = severity_label(_get(finding, "severity")) if is_missing(label) else str(label)
    return label.lower() if label and label.lower() in SEVERITY_ORDER else "info"


def _severity(finding: Mapping, w: _Words) -> str:
    band = finding_severity(finding)
    return f"{_v(_get(finding, 'severity'))} ({w.t['sev.' + band]})"


def _finding_lines(finding: Mapping, w: _Words) -> list[str]:
    # FINDING_COLUMNS (remote_country, local_port), or share.correlation_parts' finding (country,
    # port).
    country = (
        _get(finding, "country")
        if not is_missing(_get(finding, "country"))
        else _get(finding, "remote_country")
    )
    port = (
        _get(finding, "port")
        if not is_missing(_get(finding, "port"))
        else _get(finding, "local_port")
    )
    remote = _v(_get(finding, "remote_ip"))
    if not is_missing(country):
        remote += f" ({w.country(country)})"
    lines = [
        w.field("severity", _severity(finding, w)),
        w.field("type", _v(_get(finding, "type"))),
        w.field("account", _where(finding)),
        w.field("instance", _v(_get(finding, "instance_id"))),
        w.field("remote_ip", remote),
        w.field("port", _v(port)),
    ]
    count = _port(_get(finding, "count"))
    if count is not None:
        lines.append(w.field("count", w("times", n=f"{count:,}")))
    lines += [
        w.field("updated", w.when(_get(finding, "updated_at"))),
        w.field("finding_id", _v(_get(finding, "id"))),
    ]
    return lines


def guardduty_finding(finding: Mapping, settings: Settings) -> Box:
    """A GuardDuty finding from its flat fields (guardduty_finding.FINDING_COLUMNS). A sample
    finding (`additionalInfo.sample`) says so in its title."""
    w = _Words(settings)
    title = _get(finding, "title")
    what = w("gd.title", title=_v(title if not is_missing(title) else _get(finding, "type")))
    lines = _finding_lines(finding, w) + _links(w, ("link.finding", finding_link(finding)))
    return Box(
        w.headline(finding_severity(finding), what, _get(finding, "sample") is True), tuple(lines)
    )


def correlation(finding: Mapping, window: Mapping, settings: Settings) -> Box:
    """A GuardDuty finding seen while a watched port stood open: the finding, then the window."""
    w = _Words(settings)
    lines = _finding_lines(finding, w)
    still = _get(window, "still_open") is True
    closed = w("still_open") if still else w.when(_get(window, "closed_at"))
    opener = who({"actor": _get(window, "opened_by")}, w)
    lines += [
        w("corr.during"),
        w.field("group", _group(window)),
        w.field("rule", rule_text({**window, "peer": _get(window, "cidr")}, w)),
        w.field("opened", f"{w.when(_get(window, 'opened_at'))} {w('by')} {opener}"),
        w.field("closed", closed),
    ]
    lines += _links(w, ("link.finding", finding_link(finding)), ("link.group", group_link(window)))
    what = w("corr.title", type=_v(_get(finding, "type")))
    return Box(
        w.headline(finding_severity(finding), what, _get(finding, "sample") is True), tuple(lines)
    )


def connection_severity(row: Mapping) -> str:
    """A session from an address nobody knows is critical: someone got in. A handshake from one is
    medium, as is a coverage gap (the flow log cannot say nobody came in); rejected only is low."""
    kind, verdict = _get(row, "kind"), _get(row, "verdict")
    if kind == "gap":
        return "medium"
    if kind != "source":
        return "info"
    known = not is_missing(_get(row, "known_as")) and bool(_get(row, "known_as"))
    if verdict == "rejected only":
        return "low"
    if known:
        return "info"
    return "critical" if verdict == "session" else "medium"


def _known_as(value: object, w: _Words) -> str:
    """analysis.connections' `known_as` in the message's language."""
    text = "" if is_missing(value) else str(value)
    if not text:
        return w("conn.unknown")
    if text.startswith("actor: opened"):
        return w("conn.actor_opened")
    if text.startswith("actor: closed"):
        return w("conn.actor_closed")
    if text.startswith("known network "):
        return w("conn.known_network", net=neutralize(text.removeprefix("known network ")))
    return neutralize(text)


def connection(row: Mapping, settings: Settings) -> Box:
    """One row of Investigation.connections (analysis.connections.CONNECTION_COLUMNS): a source
    that came through an open window, a coverage gap, or a window whose flow logs saw no one;
    then the window."""
    w = _Words(settings)
    n = lambda key: _v(_get(row, key))  # noqa: E731
    seen = f"{w.when(_get(row, 'first_seen'))} - {w.when(_get(row, 'last_seen'))}"
    opener = who({"actor": _get(row, "opened_by")}, w)
    still = _get(row, "still_open") is True
    ports = _window_ports(row, w)
    kind = _get(row, "kind")
    if kind == "source":
        verdict = _get(row, "verdict")
        what = w(
            "conn.title",
            ports=ports,
            source=n("source"),
            verdict=w.t.get(f"v.{verdict}") or _v(verdict),
        )
        lines = [
            w.field("conn.source", f"{n('source')} ({_known_as(_get(row, 'known_as'), w)})"),
            w.field(
                "conn.flows", w("conn.flows.count", accepted=n("accepted"), rejected=n("rejected"))
            ),
            w.field(
                "conn.bytes", w("conn.bytes.count", bytes_in=n("bytes_in"), bytes_out=n("bytes_out"))
            ),
            w.field("conn.seen", seen),
            w.field(
                "conn.around",
                w(
                    "conn.around.count",
                    before=n("before_rejected"),
                    after_ok=n("after_accepted"),
                    after_no=n("after_rejected"),
                ),
            ),
        ]
        if not is_missing(_get(row, "finding_ids")) and _get(row, "finding_ids"):
            lines.append(w.field("conn.findings", n("finding_ids")))
    elif kind == "gap":
        gap = _get(row, "gap")
        what = w("conn.gap", gap=w.t.get(f"gap.{gap}") or _v(gap))
        lines = []
        if not is_missing(_get(row, "first_seen")):
            lines.append(w.field("conn.seen", seen))
    else:
        what, lines = w("conn.none", ports=ports), []
    lines += [
        w.field("conn.interfaces", n("interfaces")),
        w.field("conn.instances", n("instances")),
        w.field("account", _where(row)),
        w.field("group", _group(row)),
        w.field("rule", rule_text({**row, "peer": _get(row, "cidr"), "direction": "ingress"}, w)),
        w.field("opened", f"{w.when(_get(row, 'opened_at'))} {w('by')} {opener}"),
        w.field("closed", w("still_open") if still else w.when(_get(row, "closed_at"))),
    ]
    lines += _links(w, ("link.group", group_link(row)))
    return Box(w.headline(connection_severity(row), what), tuple(lines))


def summary(
    changes: pd.DataFrame | None,
    windows: pd.DataFrame | None,
    findings: pd.DataFrame | None,
    settings: Settings,
    since: object = None,
    until: object = None,
) -> Box:
    """The audit in sentences: the period, the changes, each exposure window, each finding
    (highest first)."""
    w = _Words(settings)
    change_rows, window_rows, finding_rows = (
        [] if f is None else records(f) for f in (changes, windows, findings)
    )
    lines = [w("summary.period", since=w.when(since), until=w.when(until))]
    failed = sum(1 for r in change_rows if not is_missing(r.get("error_code")))
    groups = {r.get("group_id") for r in change_rows if not is_missing(r.get("group_id"))}
    actors = {r.get("actor") for r in change_rows if not is_missing(r.get("actor"))}
    lines.append(
        w(
            "summary.changes",
            n=len(change_rows),
            failed=failed,
            groups=len(groups),
            actors=len(actors),
        )
    )
    still = sum(1 for r in window_rows if r.get("still_open") is True)
    lines.append(w("summary.windows", n=len(window_rows), open=still))
    for r in window_rows[:LIST_LIMIT]:
        end = (
            w("summary.window_still")
            if r.get("still_open") is True
            else w("summary.window_end", closed=w.when(r.get("closed_at")))
        )
        where = dict(group=_group(r), ports=_window_ports(r, w), cidr=_v(r.get("cidr")), end=end)
        if is_missing(r.get("opened_by")):  # seen in the state, or open before the evidence: no caller, maybe no time
            when = (w("summary.before_evidence") if is_missing(r.get("opened_at"))
                    else w("summary.at", time=w.when(r.get("opened_at"))))
            lines.append(w("summary.window_unlogged", when=when, **where))
        else:
            lines.append(w("summary.window", opened=w.when(r.get("opened_at")),
                           who=who({"actor": r.get("opened_by")}, w), **where))
    if len(window_rows) > LIST_LIMIT:
        lines.append(w("and_more", n=len(window_rows) - LIST_LIMIT))
    if findings is not None:
        ordered = sorted(finding_rows, key=lambda r: -(_float(r.get("severity"))))
        lines.append(w("summary.findings", n=len(ordered)) if ordered else w("summary.no_findings"))
        for r in ordered[:LIST_LIMIT]:
            lines.append(
                w(
                    "summary.finding",
                    severity=_severity(r, w),
                    type=_v(r.get("type")),
                    instance=_v(r.get("instance_id")),
                    updated=w.when(r.get("updated_at")),
                )
            )
        if len(ordered) > LIST_LIMIT:
            lines.append(w("and_more", n=len(ordered) - LIST_LIMIT))
    return Box(w("summary.title"), tuple(lines))


def _float(value: object) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return 0.0 if number != number else number


def digest(
    items: list[tuple[str, str, Box]],
    settings: Settings,
    since: object = None,
    until: object = None,
    day: str | None = None,
) -> Box:
    """One message for a run (or a day): counts by kind and severity, then the most severe
    items' titles.

    `items` are (kind, severity, box) as `share.digest_messages` builds them; the rest is in the
    report.
    """
    w = _Words(settings)
    title = w("digest.day", day=day, n=len(items)) if day else w("digest.title", n=len(items))
    lines = (
        [w("digest.period", since=w.when(since), until=w.when(until))]
        if since is not None or until is not None
        else []
    )
    if not items:
        return Box(title, (*lines, w("digest.none")))
    for kind in ("ssh-exposure", "connections", "sg-changes", "detections", "guardduty"):
        found = [s for k, s, _ in items if k == kind]
        if found:
            bands = w.t["list_sep"].join(
                w("digest.band", severity=w.t[f"sev.{s}"], n=found.count(s))
                for s in SEVERITY_ORDER
                if s in found
            )
            lines.append(w("digest.kind", kind=w.t[f"kind.{kind}"], n=len(found), bands=bands))
    ordered = sorted(
        items, key=lambda item: SEVERITY_ORDER.index(item[1])
    )  # stable: the caller's order within
    lines.append(w("digest.top"))
    lines += [f"- {box.title}" for _, _, box in ordered[:DIGEST_TOP]]
    if len(ordered) > DIGEST_TOP:
        lines.append(w("and_more", n=len(ordered) - DIGEST_TOP))
    return Box(title, tuple(lines))


def api_call(detail: Mapping, settings: Settings, actor: Mapping | None = None) -> Box:
    """Any other watched CloudTrail call (SNS topics and subscriptions): who, what, and its
    parameters.
    `actor`: the caller as actors.resolve names it (actor, actor_arn); else the identity's ARN."""
    w = _Words(settings)
    event = _get(detail, "eventName")
    key = f"api.{event}"
    what = w(key) if key in w.t else w("api.title", event=_v(event))
    failed = not is_missing(_get(detail, "errorCode"))
    if failed:
        what = w("api.failed", what=what)
    identity = _get(detail, "userIdentity") or {}
    params = _get(detail, "requestParameters") or {}
    response = _get(detail, "responseElements") or {}
    row = {"region": _get(detail, "awsRegion"), "event_id": _get(detail, "eventID")}
    caller = actor or {
        "actor": _get(identity, "arn") or _get(identity, "principalId"),
        "actor_arn": _get(identity, "arn"),
    }
    lines = [
        w.field("time", w.when(_get(detail, "eventTime"))),
        w.field(
            "account", f"{_v(_get(detail, 'recipientAccountId'))} / {_v(_get(detail, 'awsRegion'))}"
        ),
        *_who_lines(caller, w),
        w.field("source_ip", _v(_get(detail, "sourceIPAddress"))),
    ]
    for key, label in (("topicArn", "topic"), ("protocol", "protocol"), ("endpoint", "endpoint")):
        if not is_missing(_get(params, key)):
            lines.append(w.field(label, neutralize(_get(params, key))))
    subscription = _get(params, "subscriptionArn") or _get(response, "subscriptionArn")
    if not is_missing(subscription):
        lines.append(w.field("subscription", neutralize(subscription)))
    if failed:
        lines.append(
            w.field(
                "error",
                f"{neutralize(_get(detail, 'errorCode'))} {_v(_get(detail, 'errorMessage'))}",
            )
        )
    lines.append(w.field("event", f"{_v(event)} {_v(_get(detail, 'eventID'))}"))
    lines += _links(w, ("link.event", event_link(row)))
    lines.append(w("parameters") + ":")
    code = neutralize(
        json.dumps(params, indent=2, ensure_ascii=False, sort_keys=True, default=str),
        limit=8_000,
        multiline=True,
    )
    return Box(w.headline("medium" if failed else "info", what), tuple(lines), code)


def detection_hit(hit: Mapping, settings: Settings) -> Box:
    """One detection hit (a row of `Investigation.detect()`, or `detections.evaluate` in the
    Lambda).

    A failed call says so in the title: it is an attempt, not the change.
    """
    from ..analysis.detections import BY_ID, detail_text

    w = _Words(settings)
    detection = BY_ID.get(str(_get(hit, "detection")))
    title = detection.title(settings.language) if detection else _v(_get(hit, "title"))
    severity = str(_get(hit, "severity") or "").lower()
    attempt = _get(hit, "outcome") == "attempt"
    what = w("det.attempt_title" if attempt else "det.title", title=title)
    lines = [
        w.field("time", w.when(_get(hit, "event_time"))),
        w.field("account", _where(hit)),
        w.field("det.detail", _v(detail_text(hit, settings.language))),
        w.field("det.target", _v(_get(hit, "target"))),
        w.field("det.outcome", w("det.attempt") if attempt else w("det.success")),
        *_who_lines(hit, w),
        w.field("tool", tool(hit, w)),
        w.field("source_ip", _v(_get(hit, "source_ip"))),
        w.field("det.technique", _v(_get(hit, "technique"))),
    ]
    if attempt and not is_missing(_get(hit, "error_code")):
        lines.append(w.field("error", neutralize(_get(hit, "error_code"))))
    lines.append(w.field("event", f"{_v(_get(hit, 'event_name'))} {_v(_get(hit, 'event_id'))}"))
    lines += _links(w, ("link.event", event_link(hit)))
    return Box(w.headline(severity if severity in SEVERITY_ORDER else "info", what), tuple(lines))
