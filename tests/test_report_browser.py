"""The report in a real browser (Debian's chromium, headless): it renders, its images load, it prints.

The screenshot is kept in test-artifacts/report.png for a person to look at. Without chromium the
test is skipped with the reason; .ci/run installs it so that CI always runs this check.
"""

from __future__ import annotations

import html as html_lib
import json
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from matplotlib import image as mpimg

from audit_toolkit.investigation import Investigation
from audit_toolkit.report import write_report
from audit_toolkit.settings import Settings
from test_report import UA, hostile_event

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"

# Added to a copy of the report only: it reports what the browser loaded. The page's own policy still
# governs the images (img-src data:); the copy's policy only adds this one script by its nonce.
PROBE = """<script nonce="probe">
window.addEventListener("load", () => {
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify({
    images: [...document.images].map(i => [i.complete, i.naturalWidth, i.naturalHeight]),
    sections: [...document.querySelectorAll("h2")].map(h => h.textContent),
    scripts: document.scripts.length,
    text: document.body.innerText,
  });
  document.body.appendChild(out);
});
</script>"""


def browser() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("no chromium on this machine: install Debian's `chromium` package to run the browser check (.ci/run does)")


def headless(*args: str) -> subprocess.CompletedProcess:
    command = [browser(), "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               "--no-first-run", "--disable-extensions", "--virtual-time-budget=10000", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


def png_size(data: bytes) -> tuple[int, int]:
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def written(tmp_path_factory, demo):
    evidence = tmp_path_factory.mktemp("browser") / "evidence"
    shutil.copytree(demo / "evidence", evidence)
    (evidence / "hostile.json").write_text(json.dumps({"Records": [hostile_event()]}), encoding="utf-8")
    inv = Investigation.from_evidence(evidence, Settings(language="en"))  # the sections read in English below
    return write_report(inv, evidence.parent / "report")


def test_the_report_renders_in_chromium_with_its_images_loaded(written):
    html = written.html.read_text(encoding="utf-8")
    policy = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
    assert policy in html
    probed = written.html.with_name("probed.html")
    probed.write_text(html.replace(policy, policy + "; script-src 'nonce-probe'").replace("</body>", PROBE + "</body>"),
                      encoding="utf-8")
    dom = headless("--dump-dom", probed.as_uri()).stdout
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, dom[-2000:]
    probe = json.loads(html_lib.unescape(found.group(1)))
    expected = [[True, *png_size(chart.png)] for chart in written.charts]
    assert probe["images"] == expected and len(expected) == 3  # each chart decoded at its full size
    assert probe["sections"] == ["What needs action", "Exposed at the end of the range", "Time range and evidence",
                                 "Security-group changes", "Exposure windows", "GuardDuty findings",
                                 "What came in through each window", "Detections",
                                 "Coverage of the evidence", "Security-group state and logs", "Evidence appendix"]
    assert probe["scripts"] == 1  # the probe itself: the report carries none
    assert UA in probe["text"]  # the hostile user agent is shown as text, not run


def test_a_screenshot_and_a_pdf_for_a_person_to_look_at(written):
    ARTIFACTS.mkdir(exist_ok=True)
    shot, pdf = ARTIFACTS / "report.png", ARTIFACTS / "report.pdf"
    for path in (shot, pdf):
        path.unlink(missing_ok=True)
    headless("--window-size=1280,2400", f"--screenshot={shot}", written.html.as_uri())
    pixels = mpimg.imread(shot)
    assert pixels.shape[:2] == (2400, 1280)
    assert pixels[..., :3].std() > 0.05  # not a blank page
    headless("--no-pdf-header-footer", f"--print-to-pdf={pdf}", written.html.as_uri())
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page[^s]", data)) >= 2
