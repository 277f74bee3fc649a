"""Static checks of the web UI files: every UI string exists in both languages, every module
the pages import exists, and nothing is loaded from outside the platform."""

from __future__ import annotations

import re
from pathlib import Path

from vigil.web import STATIC_DIR

JS_DIR = STATIC_DIR / "js"
I18N = JS_DIR / "i18n.js"


def _js_files() -> list[Path]:
    return sorted(JS_DIR.rglob("*.js"))


def _dictionary() -> dict[str, list[str]]:
    """Parse `"key": ["English", "中文"],` entries (possibly spread over lines) of i18n.js."""
    text = I18N.read_text(encoding="utf-8")
    body = text[text.index("export const STRINGS = {") : text.index("\n};\n")]
    entries = re.findall(r'^\s*"([a-z0-9_.]+)":\s*\[(.*?)\],\s*$', body, flags=re.M | re.S)
    strings = re.compile(r'"((?:[^"\\]|\\.)*)"')
    return {key: strings.findall(value) for key, value in entries}


def test_static_dir_has_the_entry_points() -> None:
    for name in ("index.html", "css/app.css", "js/app.js", "favicon.svg"):
        assert (STATIC_DIR / name).is_file(), name


def test_every_string_has_english_and_chinese() -> None:
    dictionary = _dictionary()
    assert len(dictionary) > 150
    for key, texts in dictionary.items():
        assert len(texts) == 2, key
        english, chinese = texts
        assert english.strip(), key
        assert chinese.strip(), key
        assert re.search(r"[\u4e00-\u9fff]", chinese) or key in {
            "app.name",
            "export.csv",
        }, f"{key} has no Chinese text"


def test_every_key_used_by_the_pages_exists() -> None:
    dictionary = _dictionary()
    used: set[str] = set()
    for path in _js_files():
        source = path.read_text(encoding="utf-8")
        used.update(re.findall(r'\bt\(\s*"([a-z0-9_.]+)"', source))
        used.update(re.findall(r'\b(?:key|hint):\s*"([a-z0-9_.]+)"', source))
    missing = sorted(key for key in used if key not in dictionary)
    assert not missing, missing
    for prefix, values in {
        "class": ["1", "2", "3"],
        "network": ["police_video", "social_video", "internet", "wireless"],
        "online": ["true", "false"],
        "ptz": ["1", "2", "3", "4", "5", "6", "7"],
        "outcome": ["ok", "denied", "failed", "throttled"],
        "role": ["admin", "operator", "viewer", "auditor", "approver"],
        "import": ["rows", "created", "updated", "unchanged", "orgs_created"],
    }.items():
        for value in values:
            assert f"{prefix}.{value}" in dictionary, f"{prefix}.{value}"


def test_relative_imports_resolve() -> None:
    pattern = re.compile(r'(?:from\s+|import\s*\(\s*|import\s+)"(\.{1,2}/[^"]+)"')
    for path in _js_files():
        for target in pattern.findall(path.read_text(encoding="utf-8")):
            assert (path.parent / target).resolve().is_file(), f"{path.name} imports {target}"


def test_no_external_resources() -> None:
    for path in STATIC_DIR.rglob("*"):
        if path.suffix not in {".html", ".css", ".js", ".svg"}:
            continue
        text = path.read_text(encoding="utf-8")
        urls = re.findall(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, flags=re.I)
        urls = [u for u in urls if not u.endswith("//www.w3.org")]  # XML namespaces
        assert not urls, f"{path.relative_to(STATIC_DIR)} refers to {urls}"
