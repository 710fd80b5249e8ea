"""Charts draw what the evidence says: bars where the windows are, markers where the changes are."""

from __future__ import annotations

import io
import warnings

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import pandas as pd
import pytest
from matplotlib.text import Text
from PIL import Image

from audit_toolkit import charts
from audit_toolkit.settings import Settings

EN = Settings(language="en")  # the tests that read the charts' English wording say so
TOKYO = Settings(display_tz="Asia/Tokyo", language="en")


def num(text: str) -> float:
    return float(mdates.date2num(pd.Timestamp(text)))


def patches(ax, gid: str) -> list:
    return [p for p in ax.patches if p.get_gid() == gid]


def texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


def legend(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def png(ax) -> bytes:
    """Render for real, with a missing glyph (a box instead of Japanese) an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return charts.to_png(ax)


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def window(**values) -> dict:
    row = dict(account="111111111111", region="ap-northeast-1", group_id="sg-1", group_name=None, direction="ingress",
               protocol="tcp", from_port=22, to_port=22, cidr="0.0.0.0/0", opened_at=None, opened_by=None,
               closed_at=None, closed_by=None, still_open=False, open_before_evidence=False)
    row.update(values)
    return row


def windows(*rows: dict) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    for col in ("opened_at", "closed_at"):
        frame[col] = pd.to_datetime(frame[col], utc=True)
    return frame


def test_exposure_bars_span_each_window_on_its_groups_row(demo_inv):
    found, span = demo_inv.ssh_exposure(), demo_inv.span()
    ax = charts.plot_exposure(found, start=span["first_event"], end=span["last_event"], settings=EN)
    bars = patches(ax, "window")
    assert len(bars) == len(found) == 11  # 7 from the logs, 4 known from the security-group state
    # alice's SSH window on the bastion: exactly from her authorize to bob's revoke
    alice = [b for b in bars if abs(b.get_x() - num("2026-11-03T09:02:00Z")) < 1e-9]
    assert len(alice) == 1
    assert alice[0].get_x() + alice[0].get_width() == pytest.approx(num("2026-11-03T11:32:15Z"))
    assert "opened by alice; closed by bob" in texts(ax)
    # the still-open window runs to the end of the evidence and ends in an arrow
    still = found[found["still_open"] & found["group_id"].eq("sg-0e000000000000005")].iloc[0]
    arrows = [line for line in ax.lines if line.get_gid() == "still-open"]  # sg-0e... and legacy-bastion
    assert [a.get_xdata()[0] for a in arrows] == [pytest.approx(num(span["last_event"].isoformat()))] * 2
    still_bar = [b for b in bars if abs(b.get_x() - num(still["opened_at"].isoformat())) < 1e-9]
    assert still_bar[0].get_x() + still_bar[0].get_width() == pytest.approx(num(span["last_event"].isoformat()))
    # the windows open before the evidence start at the evidence with a hatched lead: root's, and the
    # two that AWS Config shows open since 2025 (legacy-bastion, old-web)
    leads = patches(ax, "before-evidence")
    assert [lead.get_x() for lead in leads] == [pytest.approx(num(span["first_event"].isoformat()))] * 3
    assert {lead.get_hatch() for lead in leads} == {"////"}
    assert "open before the evidence; closed by root (333333333333)" in texts(ax)
    assert "tcp/22 from 203.0.113.9/0" in texts(ax)
    assert "all traffic from 0.0.0.0/0" in texts(ax)
    assert legend(ax) == ["open to the internet", "open before the evidence", "still open at the end"]
    # one row per group: sg-0b... holds two windows but one tick label
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) == found["group_id"].nunique() == 10
    assert sum(label.startswith("sg-0b000000000000002") for label in labels) == 1
    assert png(ax).startswith(b"\x89PNG")


def test_exposure_rows_carry_group_names_in_japanese(demo_inv):
    ax = charts.plot_exposure(demo_inv.ssh_exposure(), changes=demo_inv.sg_changes(), settings=EN)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert "sg-0a000000000000001 bastion-tmp (temporary bastion 踏み台)\n111111111111 ap-northeast-1" in labels
    png(ax)  # no "Glyph missing" warning: the bundled font draws 踏み台


def test_findings_are_markers_on_their_groups_row_by_severity():
    frame = windows(
        window(group_id="sg-a", opened_at="2026-11-03T09:00Z", closed_at="2026-11-03T10:00Z", opened_by="x", closed_by="y"),
        window(group_id="sg-b", opened_at="2026-11-03T09:30Z", still_open=True, opened_by="x"),
    )
    findings = pd.DataFrame({"group_id": ["sg-b", "sg-b", "sg-zz"], "severity": [8.0, 2.0, 9.0],
                             "first_seen": pd.to_datetime(["2026-11-03T09:45Z", "2026-11-03T09:50Z", "2026-11-03T09:40Z"], utc=True)})
    ax = charts.plot_exposure(frame, findings=findings, end="2026-11-03T11:00Z", settings=EN)
    marks = [line for line in ax.lines if line.get_gid() == "finding"]
    assert [(m.get_xdata()[0], m.get_ydata()[0]) for m in marks] == [
        pytest.approx((num("2026-11-03T09:45Z"), 1)), pytest.approx((num("2026-11-03T09:50Z"), 1))]  # sg-zz has no row
    assert legend(ax)[-2:] == ["GuardDuty finding (Low)", "GuardDuty finding (High)"]
    # GuardDuty's own rows name their groups in security_group_ids: one marker on each group's row
    flat = pd.DataFrame({"security_group_ids": ["sg-a,sg-b"], "severity": [9.2],
                         "first_seen": pd.to_datetime(["2026-11-03T09:40Z"], utc=True)})
    ax = charts.plot_exposure(frame, findings=flat, end="2026-11-03T11:00Z", settings=EN)
    marks = [line for line in ax.lines if line.get_gid() == "finding"]
    assert sorted(m.get_ydata()[0] for m in marks) == [0, 1] and legend(ax)[-1] == "GuardDuty finding (Critical)"


def test_display_time_zone_is_a_setting():
    frame = windows(window(opened_at="2026-11-03T09:00Z", closed_at="2026-11-03T11:00Z", opened_by="a", closed_by="b"))
    utc = charts.plot_exposure(frame, start="2026-11-03T09:00Z", end="2026-11-03T11:00Z", settings=EN)
    tokyo = charts.plot_exposure(frame, start="2026-11-03T09:00Z", end="2026-11-03T11:00Z", settings=TOKYO)
    for ax in (utc, tokyo):
        ax.figure.canvas.draw()
    utc_ticks = [t.get_text() for t in utc.get_xticklabels()]
    tokyo_ticks = [t.get_text() for t in tokyo.get_xticklabels()]
    assert "10:00" in utc_ticks and "19:00" in tokyo_ticks  # 10:00 UTC is 19:00 in Tokyo
    assert "19:00" not in utc_ticks and "10:00" not in tokyo_ticks
    assert (utc.get_xlabel(), tokyo.get_xlabel()) == ("time (UTC)", "time (Asia/Tokyo)")


def test_log_text_never_becomes_mathtext():
    hostile = r"cost $\frac{$ and $x^2$"
    assert Text()._preprocess_math(charts.label(hostile)) == (hostile, False)  # drawn as written
    frame = windows(window(group_id="sg-1", opened_at="2026-11-03T09:00Z", closed_at="2026-11-03T10:00Z",
                           opened_by=hostile, closed_by="line\nbreak"))
    changes = pd.DataFrame([{"account": "111111111111", "region": "ap-northeast-1", "group_id": "sg-1",
                             "group_name": "$x$", "description": hostile, "action": "create_group"}])
    ax = charts.plot_exposure(frame, changes=changes, settings=EN)
    assert rf"opened by {charts.label(hostile, 40)}; closed by line break" in texts(ax)
    png(ax)  # unescaped, `$\frac{$` is a mathtext parse error at draw time


def change(when: str, group: str, action: str, actor: str, error: str | None = None) -> dict:
    return {"event_time": pd.Timestamp(when), "account": "111111111111", "region": "ap-northeast-1", "group_id": group,
            "group_name": None, "description": None, "action": action, "actor": actor, "error_code": error}


def test_changes_are_coloured_by_actor_and_failed_attempts_marked(demo_inv):
    changes = demo_inv.sg_changes()
    ax = charts.plot_changes(changes, settings=EN)
    drawn = [line for line in ax.lines if line.get_gid() in ("change", "failed")]
    assert len(drawn) == len(changes) == 24
    [failed] = [line for line in drawn if line.get_gid() == "failed"]
    assert failed.get_xdata()[0] == pytest.approx(num("2026-11-03T09:20:00Z"))
    assert failed.get_markerfacecolor() == "white"
    entries = legend(ax)
    assert entries[:2] == ["terraform-ci / tf-run-4711", "ops-admin / mallory"]  # most active first
    assert {"alice", "bob", "dave (federated)", "carol@example.com (SSO)", "root (333333333333)", "failed attempt"} <= set(entries)
    png(ax)


def test_same_actor_same_colour_other_actors_grouped():
    frame = pd.DataFrame([change("2026-11-03T09:00Z", "sg-1", "authorize", "arn:aws:iam::1:user/a"),
                          change("2026-11-03T10:00Z", "sg-2", "revoke", "arn:aws:iam::1:user/a"),
                          change("2026-11-03T11:00Z", "sg-2", "authorize", "arn:aws:iam::1:user/b", "Client.UnauthorizedOperation"),
                          change("2026-11-03T12:00Z", "sg-1", "modify", "arn:aws:iam::1:user/c")])
    ax = charts.plot_changes(frame, max_actors=2, settings=EN)
    a1, a2, b, c = ax.lines
    assert a1.get_color() == a2.get_color() != b.get_color()
    assert (a1.get_ydata()[0], a2.get_ydata()[0], b.get_ydata()[0]) == (0, 1, 1)
    assert c.get_color() == "#999999"
    assert (b.get_markerfacecolor(), b.get_markeredgecolor()) == ("white", b.get_color())  # failed: hollow, b's colour
    assert legend(ax) == ["a", "b", "1 other actor", "authorize", "revoke", "modify", "failed attempt"]


def test_a_revoke_that_matched_nothing_has_its_own_marker():
    frame = pd.DataFrame([change("2026-11-03T09:00Z", "sg-1", "revoke_unmatched", "arn:aws:iam::1:user/a")])
    [line] = charts.plot_changes(frame, settings=EN).lines
    assert line.get_marker() == "1"
    assert legend(line.axes) == ["a", "revoke unmatched"]


def test_findings_over_time_stack_by_severity_band_with_quiet_days_as_zero():
    findings = pd.DataFrame({
        "severity": [2.0, 5.5, 8.0, 8.9, 9.5, 1.0],
        "first_seen": pd.to_datetime(["2026-11-01T01:00Z", "2026-11-01T02:00Z", "2026-11-01T16:00Z",
                                      "2026-11-03T03:00Z", "2026-11-03T04:00Z", "2026-11-03T05:00Z"], utc=True),
    })
    ax = charts.plot_findings(findings, settings=EN)
    heights = {band: [p.get_height() for p in patches(ax, band)] for band in ("Low", "Medium", "High", "Critical")}
    assert heights == {"Low": [1, 0, 1], "Medium": [1, 0, 0], "High": [1, 0, 1], "Critical": [0, 0, 1]}
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2026-11-01", "2026-11-02", "2026-11-03"]
    # the Critical bar sits on top of the others
    assert patches(ax, "Critical")[2].get_y() == 2
    assert legend(ax) == ["Low", "Medium", "High", "Critical"]
    # in Tokyo, 16:00 UTC on the 1st is the 2nd
    tokyo = charts.plot_findings(findings, settings=TOKYO)
    assert [p.get_height() for p in patches(tokyo, "High")] == [0, 1, 1]
    assert patches(ax, "sample") == []  # no sample, no hatching
    png(tokyo)


def test_sample_findings_are_tagged_in_the_findings_chart():
    findings = pd.DataFrame({
        "severity": [5.0, 8.0, 5.0], "sample": [True, False, True],
        "first_seen": pd.to_datetime(["2026-11-01T01:00Z", "2026-11-01T02:00Z", "2026-11-02T03:00Z"], utc=True),
    })
    ax = charts.plot_findings(findings, settings=EN)
    assert [p.get_height() for p in patches(ax, "sample")] == [1, 1]
    assert all(p.get_hatch() == "//" and not p.get_fill() for p in patches(ax, "sample"))
    assert legend(ax)[-1] == "of which samples"


def test_activity_heatmap_counts_events_per_hour_and_day_in_the_display_zone():
    events = pd.DataFrame({"event_time": pd.to_datetime(["2026-11-03T01:10Z", "2026-11-03T01:50Z", "2026-11-03T16:30Z",
                                                         "2026-11-05T23:00Z"], utc=True), "actor": ["u"] * 4,
                           "event_name": ["DescribeInstances"] * 4})
    ax = charts.plot_activity(events, settings=EN)
    grid = ax.images[0].get_array()
    assert grid.shape == (24, 3)
    assert (grid[1, 0], grid[16, 0], grid[23, 2], int(grid.sum())) == (2, 1, 1, 4)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2026-11-03", "2026-11-04", "2026-11-05"]
    tokyo = charts.plot_activity(events, settings=TOKYO).images[0].get_array()
    assert tokyo.shape == (24, 4)  # 23:00 UTC on the 5th is 08:00 on the 6th in Tokyo
    assert (tokyo[10, 0], tokyo[1, 1], tokyo[8, 3], int(tokyo.sum())) == (2, 1, 1, 4)
    assert "Activity of u (4 events)" == ax.get_title()
    assert charts.plot_activity(events[:1], settings=EN).get_title() == "Activity of u (1 event)"


def test_one_change_stands_out_among_thousands_of_reads_and_the_title_names_the_actor():
    times = pd.date_range("2026-11-03T00:00Z", periods=3000, freq="1s")
    events = pd.DataFrame({"event_time": [*times, pd.Timestamp("2026-11-03T05:00Z")],
                           "event_name": ["DescribeInstances"] * 3000 + ["AuthorizeSecurityGroupIngress"],
                           "actor": ["arn:aws:iam::111111111111:role/ops-admin (session mallory)"] * 3001})
    ax = charts.plot_activity(events, actor="ASIAMALLORY000000001", settings=EN)
    assert ax.get_title() == "Activity of ops-admin / mallory (key ASIAMALLORY000000001) (3,001 events)"
    assert type(ax.images[0].norm).__name__ == "LogNorm"  # one call is not lost beside 3000
    (dots,) = [c for c in ax.collections if c.get_gid() == "changes"]
    assert dots.get_offsets().tolist() == [[0.0, 5.0]]  # the hour of the one change, and only it


def test_a_window_opened_before_the_range_starts_at_the_range_with_a_mark(demo_inv):
    windows = demo_inv.ssh_exposure(since="2026-11-03T10:00:00Z")
    start, end = pd.Timestamp("2026-11-03T10:00:00Z"), pd.Timestamp("2026-11-04T00:00:00Z")
    ax = charts.plot_exposure(windows, start=start, end=end, settings=EN)
    x0 = num(start.isoformat())
    earlier = [m for m in ax.lines if m.get_gid() == "began-earlier"]
    opened_before = windows[(windows["opened_at"] < start) & ~windows["open_before_evidence"]]
    assert len(earlier) == len(opened_before) > 0
    assert all(round(m.get_xdata()[0], 9) == round(x0, 9) for m in earlier)
    assert min(b.get_x() for b in patches(ax, "window")) >= x0 - 1e-9  # nothing drawn left of the range
    assert all(t.xy[0] >= x0 - 1e-9 for t in ax.texts)  # labels inside the axes
    width, height = Image.open(io.BytesIO(png(ax))).size
    assert width < 2500 and height > 200


def test_a_window_with_no_logged_open_or_close_says_so_instead_of_an_empty_name():
    # seen only in the state (AWS Config): nobody's call opened or closed it
    frame = windows(window(opened_at="2026-11-03T09:00Z", closed_at="2026-11-03T11:00Z"))
    texts = {lang: [t.get_text() for t in charts.plot_exposure(frame, settings=Settings(language=lang)).texts]
             for lang in ("en", "ja")}
    assert "opened by no logged call; closed by no logged call" in texts["en"]
    assert "公開: 記録された操作なし。終了: 記録された操作なし" in texts["ja"]


def test_changes_at_the_same_moment_on_one_group_do_not_hide_each_other():
    at = pd.Timestamp("2026-11-03T09:00:00Z")
    changes = pd.DataFrame({"event_time": [at, at, at, at + pd.Timedelta(hours=5)], "account": ["1"] * 4,
                            "region": ["r"] * 4, "group_id": ["sg-1"] * 4, "action": ["authorize"] * 4,
                            "actor": ["a", "b", "c", "a"], "error_code": [None] * 4})
    ax = charts.plot_changes(changes, settings=EN)
    together = [round(float(m.get_ydata()[0]), 3) for m in ax.lines
                if m.get_gid() == "change" and round(m.get_xdata()[0], 6) == round(num(at.isoformat()), 6)]
    assert len(set(together)) == 3 and max(together) - min(together) <= 0.8  # apart, within the lane


def test_charts_never_show(monkeypatch, demo_inv):
    monkeypatch.setattr(plt, "show", lambda *a, **k: pytest.fail("a chart called show()"))
    fig, axes = plt.subplots(2)
    assert charts.plot_changes(demo_inv.sg_changes(), ax=axes[0], settings=EN) is axes[0]
    assert charts.plot_exposure(demo_inv.ssh_exposure(), ax=axes[1], settings=EN) is axes[1]
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")


def test_correlated_findings_sit_on_the_lane_of_the_window_they_attacked(demo_inv, truth):
    windows, tied = demo_inv.ssh_exposure(), demo_inv.correlate()
    assert len(tied) == len(truth["correlations"]) == 5
    ax = charts.plot_exposure(windows, findings=tied, settings=EN)
    lane_of = {round(b.get_x(), 9): b.get_y() + b.get_height() / 2 for b in patches(ax, "window")}
    marks = sorted((round(m.get_xdata()[0], 9), float(m.get_ydata()[0])) for m in ax.lines if m.get_gid() == "finding")
    expected = sorted((round(num(r["first_seen"].isoformat()), 9), lane_of[round(num(r["opened_at"].isoformat()), 9)])
                      for _, r in tied.iterrows())
    assert marks == expected
    # the IPv6 brute force hit mallory's ::/0 window, the second lane of sg-0b..., not its tcp/20-25 window
    v6 = tied[tied["cidr"] == "::/0"].iloc[0]
    ranges = windows[(windows["group_id"] == "sg-0b000000000000002") & (windows["from_port"] == 20)]
    first_lane = lane_of[round(num(ranges["opened_at"].iloc[0].isoformat()), 9)]
    assert lane_of[round(num(v6["opened_at"].isoformat()), 9)] == first_lane + 1


def test_a_window_of_unknown_reach_and_unproven_order_is_labelled_so():
    frame = windows(window(cidr="pl-0abc", reach="unknown", ambiguous_order=True, still_open=True,
                           opened_at="2026-11-03T09:00Z", opened_by="a"))
    ax = charts.plot_exposure(frame, start="2026-11-03T09:00Z", end="2026-11-03T11:00Z", settings=EN)
    texts = [t.get_text() for t in ax.texts]
    assert "tcp/22 from pl-0abc (reach unknown)" in texts
    assert "opened by a; still open (order within one second unproven: kept open)" in texts


def test_control_and_bidi_characters_are_drawn_as_escapes_and_never_warned_raw():
    spoof = "mallory\x1b[2J\u202egnp.exe\x07"
    assert charts.label(spoof) == r"mallory\x1b[2J\u202egnp.exe\x07"
    frame = windows(window(group_id="sg-1", opened_at="2026-11-03T09:00Z",
                           closed_at="2026-11-03T10:00Z", opened_by=spoof, group_name=spoof))
    changes = pd.DataFrame([change("2026-11-03T09:00Z", "sg-1", "authorize", spoof)])
    ax = charts.plot_exposure(frame, changes=changes, settings=EN)
    assert any(rf"opened by {charts.label(spoof, 40)}" in t for t in texts(ax))
    png(ax)  # raw, ESC and BEL have no glyph: matplotlib warned, printing them to the terminal


def test_an_identity_or_a_group_id_is_wrapped_never_cut():
    # cut at 40 with "…", two CI users that differ only at the end read as one
    user = "arn:aws:iam::111111111111:user/svc-terraform-deploy-pipeline-production-eu-west-1a"
    role = ("arn:aws:iam::111111111111:role/platform-break-glass-administrators"
            " (session incident-response-mallory)")
    frame = windows(window(group_id=None, group_name="classic-db-security-group-of-payments-service",
                           opened_at="2026-11-03T09:00Z", closed_at="2026-11-03T10:00Z", opened_by=user,
                           closed_by=role))
    ax = charts.plot_exposure(frame, settings=EN)
    assert ("opened by svc-terraform-deploy-pipeline-production\n-eu-west-1a; closed by"
            " platform-break-glass-administrators /\nincident-response-mallory") in texts(ax)
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "classic-db-security-group-of-p\nayments-service\n111111111111 ap-northeast-1"]
    changes = pd.DataFrame([change("2026-11-03T09:00Z", "sg-1", "authorize", user),
                            change("2026-11-03T10:00Z", "sg-1", "revoke", role)])
    assert legend(charts.plot_changes(changes, settings=EN))[:2] == [
        "svc-terraform-deploy-pipeline-production\n-eu-west-1a",
        "platform-break-glass-administrators /\nincident-response-mallory"]
    events = pd.DataFrame({"event_time": pd.to_datetime(["2026-11-03T01:10Z"], utc=True), "actor": [role],
                           "event_name": ["DescribeInstances"]})
    title = charts.plot_activity(events, settings=EN).get_title()
    assert title == "Activity of platform-break-glass-administrators /\nincident-response-mallory (1 event)"
    drawn = [*texts(ax), *legend(ax), title]
    assert not any("…" in t for t in drawn)
    assert charts.whole("a$b" * 20, 10).replace("\n", "") == r"a\$b" * 20  # inert, and every character kept
    png(ax)


def test_the_legend_lists_exactly_what_is_drawn():
    # one window, closed, in the range: nothing open before the evidence, nothing still open
    frame = windows(window(opened_at="2026-11-03T09:00Z", closed_at="2026-11-03T10:00Z", opened_by="a", closed_by="b"))
    ax = charts.plot_exposure(frame, start="2026-11-03T08:00Z", end="2026-11-03T11:00Z", settings=EN)
    assert legend(ax) == ["open to the internet"]
    assert [h.get_label() for h in ax.get_legend().legend_handles] == ["open to the internet"]
    before = windows(window(open_before_evidence=True, still_open=True))
    ax = charts.plot_exposure(before, start="2026-11-03T08:00Z", end="2026-11-03T11:00Z", settings=EN)
    assert legend(ax) == ["open before the evidence", "still open at the end"]
    # a severity band with no finding has no bar, and no legend entry
    findings = pd.DataFrame({"severity": [2.0, 2.5], "first_seen": pd.to_datetime(["2026-11-01T01:00Z",
                                                                                    "2026-11-02T01:00Z"], utc=True)})
    assert legend(charts.plot_findings(findings, settings=EN)) == ["Low"]


def test_a_finding_marker_never_hides_the_began_earlier_mark():
    frame = windows(window(opened_at="2026-11-03T08:00Z", closed_at="2026-11-03T10:00Z", opened_by="a", closed_by="b",
                           cidr="0.0.0.0/0"))
    at_start = pd.DataFrame({"group_id": ["sg-1"], "severity": [8.0],
                             "first_seen": pd.to_datetime(["2026-11-03T09:00Z"], utc=True)})
    sessions = pd.DataFrame({"account": ["111111111111"], "region": ["ap-northeast-1"], "group_id": ["sg-1"],
                             "cidr": ["0.0.0.0/0"], "opened_at": pd.to_datetime(["2026-11-03T08:00Z"], utc=True),
                             "first_seen": pd.to_datetime(["2026-11-03T09:00Z"], utc=True), "known_as": [""]})
    ax = charts.plot_exposure(frame, findings=at_start, sessions=sessions, start="2026-11-03T09:00Z",
                              end="2026-11-03T11:00Z", settings=EN)
    [mark] = [m for m in ax.lines if m.get_gid() == "began-earlier"]
    [finding] = [m for m in ax.lines if m.get_gid() == "finding"]
    [session] = [m for m in ax.lines if m.get_gid() == "session"]
    # on the mark's lane, right of it: the finding at the range's start is drawn beside the `<`, not under it
    assert finding.get_ydata()[0] == mark.get_ydata()[0]
    assert finding.get_xdata()[0] == pytest.approx(mark.get_xdata()[0] + (ax.get_xlim()[1] - ax.get_xlim()[0]) * 0.03, abs=1e-9)
    assert mark.get_zorder() > max(finding.get_zorder(), session.get_zorder()) > patches(ax, "window")[0].get_zorder()
    assert mark.get_clip_on() is False  # at the axes' left edge, not cut in half
    assert "opened before the range" in legend(ax)


def test_a_finding_begun_before_the_range_is_drawn_at_its_start_with_a_began_earlier_mark():
    # a --since range: the brute force from 09:40 to 10:55 is active in the range 10:00-12:00
    frame = windows(window(opened_at="2026-11-03T09:00Z", closed_at="2026-11-03T11:30Z", opened_by="a",
                           closed_by="b"))
    found = pd.DataFrame({"group_id": ["sg-1", "sg-1", "sg-1"], "severity": [2.0, 8.0, 5.0],
                          "first_seen": pd.to_datetime(["2026-11-03T09:40Z", "2026-11-03T10:30Z",
                                                        "2026-11-03T08:00Z"], utc=True),
                          "last_seen": pd.to_datetime(["2026-11-03T10:55Z", "2026-11-03T10:40Z",
                                                       "2026-11-03T09:10Z"], utc=True)})
    ax = charts.plot_exposure(frame, findings=found, start="2026-11-03T10:00Z", end="2026-11-03T12:00Z", settings=EN)
    x0, right = ax.get_xlim()
    marks = sorted((m.get_xdata()[0], m.get_ydata()[0]) for m in ax.lines if m.get_gid() == "finding")
    # the one over before the range (08:00-09:10) is not drawn; the one begun at 09:40 is, inside the axes
    assert marks == [(pytest.approx(x0 + (right - x0) * 0.03, abs=1e-9), 0),
                     (pytest.approx(num("2026-11-03T10:30Z"), abs=1e-9), 0)]
    [earlier] = [m for m in ax.lines if m.get_gid() == "finding-earlier"]
    assert x0 < earlier.get_xdata()[0] < marks[0][0] and earlier.get_ydata()[0] == 0
    assert legend(ax)[-3:] == ["GuardDuty finding (Low)", "GuardDuty finding (High)", "finding begun before the range"]


def test_a_stretch_the_evidence_does_not_cover_is_drawn_as_such():
    frame = windows(window(account="111111111111", opened_at="2026-11-03T09:00Z", still_open=True, opened_by="a"),
                    window(account="222222222222", group_id="sg-2", opened_at="2026-11-03T09:00Z",
                           closed_at="2026-11-03T12:00Z", opened_by="a", closed_by="b"))
    outage = (pd.Timestamp("2026-11-03T10:00Z"), pd.Timestamp("2026-11-03T11:00Z"), "111111111111")
    ax = charts.plot_exposure(frame, start="2026-11-03T09:00Z", end="2026-11-03T13:00Z", settings=EN,
                              uncovered=[outage])
    grey = patches(ax, "uncovered")
    # on the lane of the outage's account only, exactly over the outage, behind the bars
    assert [(p.get_x(), p.get_x() + p.get_width(), p.get_y() + p.get_height() / 2) for p in grey] == [
        pytest.approx((num("2026-11-03T10:00Z"), num("2026-11-03T11:00Z"), 0))]
    assert grey[0].get_hatch() == "xx" and grey[0].get_zorder() < patches(ax, "window")[0].get_zorder()
    # the still-open window: solid up to the outage and after it, a dashed outline across it
    solid = [(p.get_x(), p.get_x() + p.get_width()) for p in patches(ax, "window") if p.get_y() < 0.5]
    assert solid == [pytest.approx((num("2026-11-03T09:00Z"), num("2026-11-03T10:00Z"))),
                     pytest.approx((num("2026-11-03T11:00Z"), num("2026-11-03T13:00Z")))]
    [unknown] = patches(ax, "window-unknown")
    assert (unknown.get_x(), unknown.get_x() + unknown.get_width()) == pytest.approx(
        (num("2026-11-03T10:00Z"), num("2026-11-03T11:00Z")))
    assert unknown.get_fill() is False and unknown.get_linestyle() == "--"
    # the other account's window stays whole
    assert [(p.get_x(), p.get_width()) for p in patches(ax, "window") if p.get_y() > 0.5] == [
        pytest.approx((num("2026-11-03T09:00Z"), 3 / 24))]
    assert legend(ax) == ["open to the internet", "still open at the end",
                          "not covered by the evidence (open or closed: unknown)"]
    # when the evidence covers none of it (no account): every lane, all of the range
    ax = charts.plot_exposure(frame, start="2026-11-03T09:00Z", end="2026-11-03T13:00Z",
                              settings=Settings(language="ja"), uncovered=[(None, None)])
    assert len(patches(ax, "uncovered")) == 2 and patches(ax, "window") == []
    assert "証跡のない期間 (公開の有無は不明)" in legend(ax)
    png(ax)


def test_an_identity_longer_than_aws_writes_is_cut_with_a_mark_and_the_chart_stays_small():
    # a 900 KB ARN drawn whole made a figure of 300,000 lines: 2.5 GB, then MemoryError
    arn = "arn:aws:iam::111111111111:user/" + "-".join(["ab"] * 300_000)
    assert charts.whole(arn).replace("\n", "") == f"{arn[:2048]}…[+{len(arn) - 2048:,}]"
    assert charts.whole(arn[:2048]).replace("\n", "") == arn[:2048]  # the longest AWS writes: whole
    frame = windows(window(opened_at="2026-11-03T09:00Z", opened_by=arn, closed_at="2026-11-03T10:00Z",
                           closed_by=arn))
    exposure = Image.open(io.BytesIO(charts.to_png(charts.plot_exposure(frame, settings=EN))))
    changes = pd.DataFrame([change("2026-11-03T09:00Z", "sg-1", "authorize", arn)])
    drawn = Image.open(io.BytesIO(charts.to_png(charts.plot_changes(changes, settings=EN))))
    assert max(exposure.size) < 2000 and max(drawn.size) < 2000


def test_a_figure_of_many_rows_is_no_taller_than_the_bound():
    many = windows(*[window(group_id=f"sg-{i}", opened_at="2026-11-03T09:00Z") for i in range(500)])
    ax = charts.plot_exposure(many, settings=EN)
    assert tuple(ax.figure.get_size_inches()) == (12, charts.MAX_FIGURE_INCHES)
    changes = pd.DataFrame([change("2026-11-03T09:00Z", f"sg-{i}", "authorize", "alice") for i in range(500)])
    assert tuple(charts.plot_changes(changes, settings=EN).figure.get_size_inches()) == (12, 100)
