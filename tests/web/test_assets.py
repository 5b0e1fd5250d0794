"""The page's files ship in the package and need nothing else (podnet/web/static): every
file the page or a module imports exists, nothing is fetched from another origin, nothing is
inline (the server's Content-Security-Policy would refuse it), lab strings never go through
innerHTML, and the package data declares the folder. Pure: the files are read as text."""

from __future__ import annotations

import re
from pathlib import Path

STATIC = Path(__file__).resolve().parents[2] / "podnet" / "web" / "static"
REPO = Path(__file__).resolve().parents[2]


def texts() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in STATIC.iterdir() if p.is_file()}


def test_every_referenced_file_is_in_the_package():
    files = texts()
    html = files["index.html"]
    referenced = set(re.findall(r'(?:src|href)="/static/([^"]+)"', html))
    for name, text in files.items():
        if name.endswith(".js"):
            referenced |= set(re.findall(r'from\s+"\./([^"]+)"', text))
            referenced |= set(re.findall(r'import\s+"\./([^"]+)"', text))
    assert referenced and referenced <= set(files), referenced - set(files)
    assert {"app.js", "style.css"} <= referenced


def test_nothing_comes_from_another_origin():
    for name, text in texts().items():
        urls = [u for u in re.findall(r"https?://[^\s\"')]+", text) if not u.startswith("http://www.w3.org/")]
        assert not urls, (name, urls)
        assert "@import" not in text and "url(http" not in text, name


def test_no_inline_script_or_style_that_the_policy_would_block():
    html = texts()["index.html"]
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "an inline <script>"
    assert "<style" not in html and ' style="' not in html and " on" + "click=" not in html


def test_lab_strings_never_go_through_inner_html():
    for name, text in texts().items():
        if not name.endswith(".js"):
            continue
        for line in text.splitlines():
            if "innerHTML" in line and not line.strip().startswith("//"):
                assert "readme" in line.lower(), (name, line)  # only the server-rendered lab README
        assert "eval(" not in text and "new Function" not in text, name


def test_the_static_folder_is_package_data():
    setup = (REPO / "setup.py").read_text(encoding="utf-8")
    assert '"podnet.web": ["static/*"]' in setup
