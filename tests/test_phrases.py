"""The catalogue of phrases: each language says the same things with the same values."""

from __future__ import annotations

from string import Formatter

from audit_toolkit.chatwork.messages import CHAT, TEXT
from audit_toolkit.phrases import TEXT as SHARED
from audit_toolkit.phrases import Items, phrase, say


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in Formatter().parse(template) if name}


def test_both_languages_have_every_phrase_with_the_same_values():
    ja, en = SHARED["ja"], SHARED["en"]
    # English shows the toolkit's own values as they are (report.value.*); only it has plural forms.
    only_ja = {k for k in ja.keys() - en.keys() if not k.startswith("report.value.")}
    only_en = {k for k in en.keys() - ja.keys() if not k.endswith(".one")}
    assert only_ja == set() and only_en == set()
    for key in ja.keys() & en.keys():
        assert _fields(ja[key]) == _fields(en[key]), key
    for key, text in en.items():
        if key.endswith(".one"):
            assert _fields(text) == _fields(en[key.removesuffix(".one")]), key


def test_chat_joins_the_catalogue_and_keeps_its_own_keys_apart():
    for language in ("ja", "en"):
        assert CHAT[language].keys().isdisjoint(SHARED[language]), language
        assert TEXT[language] == {**CHAT[language], **SHARED[language]}


def test_a_phrase_takes_a_value_from_a_log_as_text_never_as_structure():
    hostile = {"key": "logging_stopped", "values": {}}  # a log value shaped like a phrase
    said = phrase("role_trusts", principals=Items(["*", "arn:aws:iam::999988887777:root"]))
    assert say(said, "en") == "role trusts *, arn:aws:iam::999988887777:root"
    assert say(said, "ja") == "ロールが *、arn:aws:iam::999988887777:root を信頼"
    odd = phrase("permission_removed", label=hostile)
    assert say(odd, "ja") == f"アクセス許可 {hostile} を削除" and say(odd, "en") == f"permission {hostile} removed"
    assert say(phrase("permission_removed", label="{0.__class__}"), "en") == "permission {0.__class__} removed"


def test_a_count_of_one_takes_the_singular_in_english():
    import re

    from audit_toolkit.phrases import COUNTS, reason, words

    en = SHARED["en"]
    assert say(phrase("lifecycle_expire", days=Items(["1"])), "en") == "logs expire after 1 day"
    assert say(phrase("lifecycle_expire", days=Items(["1", "30"])), "en") == "logs expire after 1, 30 days"
    assert say(phrase("lifecycle_expire", days=Items(["1"])), "ja") == "ログを 1 日後に削除"
    assert say(phrase("lifecycle_move", storage_class="GLACIER", days=1), "en") == "logs move to GLACIER after 1 day"
    assert say(phrase("key_deletion", days=7), "en") == "key deletion scheduled in 7 days"
    assert say(phrase("secret_burst", n=10, minutes=1), "en") == "read with decryption: one of 10 or more secrets in 1 minute"
    assert say(phrase("after", n=1), "en", "flow") == "; 1 flow still accepted after the window closed"
    one = dict(source="198.51.100.7", who="unknown", group="sg-1", ports="tcp/22", verdict="probe", rejected=0,
               bytes_in=60, bytes_out=0, first="09:00", last="09:00", findings="", after="")
    assert "probe, 1 flow accepted, 0 rejected" in say(phrase("source", accepted=1, **one), "en", "flow")
    assert "probe, 2 flows accepted, 0 rejected" in say(phrase("source", accepted=2, **one), "en", "flow")
    assert say(phrase("events_missing", missing=1, total=1), "en", "state") == "1 of 1 related event is not in the evidence"
    assert reason("no_data", count=1) == "1 record with log-status NODATA or SKIPDATA (shown as a coverage gap)"
    assert words("en", "demo.generating", events="1", folder="x").startswith("Generating demo evidence (1 event of")
    # every English phrase that puts its count before a plural noun has its `.one` form
    for key, text in en.items():
        if not key.endswith(".one") and re.search(r"\{%s\} (?:[\w-]+ ){0,2}?[a-z]+s\b" % COUNTS.get(key, "n"), text):
            assert f"{key}.one" in en, key
    for key, field in COUNTS.items():
        assert f"{{{field}}}" in en[key] and _fields(en[f"{key}.one"]) == _fields(en[key]), key


def test_the_japanese_catalogue_calls_the_evidence_one_name():
    ja = SHARED["ja"]
    assert [k for k, text in ja.items() if "証拠" in text] == []  # 証跡, as everywhere else
    assert ja["flow.span.before"] == ja["report.before_evidence"] == "証跡の開始前"


def test_proof_counts_and_the_demo_flows_agree_with_a_count_of_one_and_ja_bytes_have_separators():
    from datetime import datetime, timezone

    from audit_toolkit.analysis.connections import describe
    from audit_toolkit.evidence.digest_chain import VALID, IntegrityReport, Row, Span
    from audit_toolkit.phrases import phrase as _phrase
    from audit_toolkit.phrases import words

    at = datetime(2026, 11, 3, tzinfo=timezone.utc)
    one = IntegrityReport(rows=[Row("log", "a.json.gz", VALID, _phrase("x")), Row("digest", "d", VALID, _phrase("x"))],
                          spans=[Span("covered", "1", "r", "t", at, at.replace(hour=1)),
                                 Span("gap", "1", "r", "t", at.replace(hour=1), at.replace(hour=2))])
    assert one.summary() == ("1 of 1 log file and 1 of 1 digest proven AWS-delivered and unaltered; 1 hour "
                             "covered by the chain, 1 gap")
    assert one.summary("ja") == ("ログファイル 1 個のうち 1 個、ダイジェスト 1 個のうち 1 個が AWS の配信で改変なしと"
                                 "証明されました。チェーンがカバーする時間 1 時間、欠落 1 件")
    flows = dict(read=3, rejected=0, n=2)
    assert words("en", "demo.flows", sources=words("en", "demo.sources", n=1), **flows) == (
        "VPC flow logs: 3 records read, 0 rejected; 1 public source came through a window, 2 coverage gaps:")
    assert words("en", "demo.flows", sources=words("en", "demo.sources", n=2), **flows).startswith(
        "VPC flow logs: 3 records read, 0 rejected; 2 public sources came")
    row = dict(kind="source", source="198.51.100.200", known_as=None, group_id="sg-0e000000000000005",
               protocol="tcp", from_port=22, to_port=22, verdict="session", accepted=4, rejected=0,
               bytes_in=40000, bytes_out=1200000, first_seen=at, last_seen=at, finding_ids=None,
               after_accepted=0, interfaces="eni-0app200000000007", instances=None)
    assert "受信 40,000 バイト、送信 1,200,000 バイト" in describe(row, "ja", "UTC")
    assert "40,000 bytes in, 1,200,000 bytes out" in describe(row, "en", "UTC")
