"""The documentation site as a reader sees it: built with -W, opened in headless Chromium.

Every op-family page is opened inside one probe page that reports, from the browser's own
layout, how many MathML formulas were laid out with a size
and whether any LaTeX source (``\\frac``, ``\\bar``, ...) is left in the visible text. Without
Chromium the browser checks skip, except under ``CI`` (set by the CI runner), where they fail.
"""

from __future__ import annotations

import html
import importlib.util
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
RAW_LATEX = r"\\(frac|bar|sum|partial|hat|mathbf|mathrm|cdot|odot|sqrt|left|right|texttt|begin)\b"

# One browser launch probes every page: each is loaded in an iframe of a probe page (same
# origin under --allow-file-access-from-files) and measured from the browser's own layout.
PROBE = """<html><body><script>
const pages = PAGES;
const results = {};
let pending = pages.length;
for (const p of pages) {
  const f = document.createElement("iframe");
  f.style.width = "1200px";
  f.style.height = "1600px";
  f.onload = () => {
    const d = f.contentDocument, w = f.contentWindow;
    const maths = [...d.querySelectorAll("math")];
    const laid = maths.filter(m => {
      const r = m.getBoundingClientRect();
      return r.width > 0 && r.height > 0 && w.getComputedStyle(m).display.includes("math");
    });
    results[p] = {maths: maths.length, laid_out: laid.length, text: d.body.innerText};
    if (--pending === 0) {
      const out = document.createElement("pre");
      out.id = "probe";
      out.textContent = JSON.stringify(results);
      document.body.appendChild(out);
    }
  };
  f.src = p;
  document.body.appendChild(f);
}
</script></body></html>
"""


def _op_pages() -> list[str]:
    sys.path.insert(0, str(ROOT / "docs" / "_ext"))
    try:
        import apigen
    finally:
        sys.path.pop(0)
    return sorted(m.rsplit(".", 1)[-1] for m in apigen.op_families())


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> pathlib.Path:
    if importlib.util.find_spec("sphinx") is None:
        if os.environ.get("CI"):
            pytest.fail("sphinx is not installed, and CI is set: the site must build")
        pytest.skip('sphinx is not installed (pip install -e ".[docs]")')
    out = tmp_path_factory.mktemp("site")
    cmd = [sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html", str(ROOT / "docs"), str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"sphinx -W failed:\n{done.stdout}\n{done.stderr}"
    return out


@pytest.fixture(scope="module")
def chromium() -> str:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed, and CI is set: the browser test must run")
        pytest.skip("chromium is not installed (apt-get install chromium); CI installs it")
    return CHROMIUM


def _browser(chromium: str, *args: str) -> str:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--window-size=1200,1600"]
    done = subprocess.run([chromium, *flags, *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture(scope="module")
def reports(site, chromium) -> dict:
    """``{page path: {maths, laid_out, text}}`` for the front page and every op page."""
    pages = ["index.html", *(f"_generated/ops/{name}.html" for name in _op_pages())]
    probe = site / "probe.html"
    probe.write_text(PROBE.replace("PAGES", json.dumps(pages)))
    args = ["--allow-file-access-from-files", "--virtual-time-budget=20000", "--dump-dom"]
    dom = _browser(chromium, *args, probe.as_uri())
    match = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert match, f"the probe page did not report; the browser gave:\n{dom[-2000:]}"
    return json.loads(html.unescape(match.group(1)))


def test_the_site_builds_with_every_op_family_page(site):
    pages = _op_pages()
    assert "conv" in pages and "pool" in pages
    for name in pages:
        assert (site / "_generated" / "ops" / f"{name}.html").is_file(), name


@pytest.mark.parametrize("family", _op_pages())
def test_op_page_shows_its_derivations_as_rendered_math(reports, family):
    report = reports[f"_generated/ops/{family}.html"]
    left = sorted(set(re.findall(RAW_LATEX, report["text"])))
    assert not left, f"{family}: raw LaTeX left in the visible text: {left}"
    assert report["laid_out"] >= 1, f"{family}: no formula was laid out as math: {report['maths']}"
    assert report["laid_out"] == report["maths"], f"{family}: some formulas were not laid out"
    assert "Backward pass (the derivation)" in report["text"]
    assert "Audit cases" in report["text"]


def test_front_page_links_every_section(reports):
    report = reports["index.html"]
    for section in ("Installation", "Using the ops", "Ops by family", "The audit", "Performance"):
        assert section in report["text"], section


def test_conv_page_screenshot(site, chromium, tmp_path):
    shot = tmp_path / "conv.png"
    page = site / "_generated" / "ops" / "conv.html"
    _browser(chromium, f"--screenshot={shot}", page.as_uri())
    assert shot.stat().st_size > 10_000, "the screenshot is (nearly) empty"
    if keep := os.environ.get("CNNJAX_DOCS_SCREENSHOT"):  # to look at it: a path to copy it to
        shutil.copy(shot, keep)
