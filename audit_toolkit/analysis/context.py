"""The CloudTrail around a thing: every event that names it (an instance, a group, an address)."""

from __future__ import annotations

import re

import pandas as pd

SEARCHED = ("requestparameters", "responseelements", "sourceipaddress")


def mentions(events: pd.DataFrame, identifiers: list[str] | tuple[str, ...]) -> pd.DataFrame:
    """The events whose request, response or source address names any of `identifiers`, as a whole token
    (`i-0abc` is not found in `i-0abcd`, nor `10.0.0.1` in `10.0.0.11`), with a `mentioned` column saying
    which. Identifiers come from a finding: they are escaped, never used as patterns.
    """
    wanted = [i for i in dict.fromkeys(str(i) for i in identifiers if i is not None and str(i))]
    if events.empty or not wanted:
        return events.iloc[0:0].assign(mentioned=pd.Series(dtype="object"))
    text = events[[c for c in SEARCHED if c in events.columns]].astype("string").fillna("").agg(" ".join, axis=1)
    tokens = {i: re.compile(r"(?<![\w.:-])" + re.escape(i) + r"(?![\w:-]|\.\w)") for i in wanted}
    found = [", ".join(i for i, token in tokens.items() if i in t and token.search(t)) for t in text]
    frame = events.assign(mentioned=found)
    return frame[frame["mentioned"] != ""].reset_index(drop=True)
