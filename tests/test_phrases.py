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
