"""Our CSS's colours meet WCAG 2.2 AA: 4.5:1 for text, 3:1 for the charts' graphics (1.4.11)."""

import re
from pathlib import Path

import pytest

CSS = Path(__file__).resolve().parent.parent / "static" / "css" / "app.css"
RULE = re.compile(r"([^{}]+)\{([^}]*)\}")
NAMED = {"white": "#ffffff", "black": "#000000"}
PAGE_BACKGROUND = "#ffffff"  # Pico's light theme, the one the browser tests run in


def _hex(value: str) -> str | None:
    value = NAMED.get(value.strip(), value.strip())
    return value if re.fullmatch(r"#[0-9a-fA-F]{6}", value) else None


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _rules() -> list[tuple[str, dict]]:
    text = re.sub(r"/\*.*?\*/", "", CSS.read_text(), flags=re.S)
    rules = []
    for selector, body in RULE.findall(text):
        declarations = dict(d.split(":", 1) for d in body.split(";") if ":" in d)
        rules.append((selector.strip(), {k.strip(): v.strip() for k, v in declarations.items()}))
    return rules


def _text_pairs() -> list[tuple[str, str, str]]:
    pairs = []
    for selector, decl in _rules():
        colour = _hex(decl.get("color", ""))
        if colour:
            pairs.append((selector, colour, _hex(decl.get("background", "")) or PAGE_BACKGROUND))
    return pairs


def _graphics() -> list[tuple[str, str]]:
    found = []
    for selector, decl in _rules():
        if re.search(r"\.(bar|key)\b|\.(bar|key)-", selector):
            colour = _hex(decl.get("fill", "")) or _hex(decl.get("background", ""))
            if colour:
                found.append((selector, colour))
    return found


def test_the_checker_knows_its_ratios():
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#9e9e9e", "#f5f5f5") == pytest.approx(2.45, abs=0.01)  # the old pending step


def test_the_css_has_colours_to_check():
    assert len(_text_pairs()) >= 8 and len(_graphics()) >= 6


@pytest.mark.parametrize("selector, colour, background", _text_pairs())
def test_text_colours_reach_4_5_to_1(selector, colour, background):
    assert contrast(colour, background) >= 4.5, f"{selector}: {colour} on {background}"


@pytest.mark.parametrize("selector, colour", _graphics())
def test_chart_colours_reach_3_to_1_on_the_page(selector, colour):
    assert contrast(colour, PAGE_BACKGROUND) >= 3.0, f"{selector}: {colour}"
