"""What every hand-written SVG chart of the services shares: a CJK font stack, a text width estimate, titles
wrapped (and labels cut) to the room they have, and integer axis ticks at a nice step.

No plotting library: a chart is a few dozen SVG elements, and these helpers keep its labels inside the picture."""

from __future__ import annotations

# A CJK font stack: the first installed one draws the Chinese labels (a browser falls back to any sans-serif).
FONT_STACK = (
    "'Noto Sans CJK SC', 'Source Han Sans SC', 'PingFang SC', 'Microsoft YaHei', 'WenQuanYi Micro Hei', "
    "'Heiti SC', sans-serif"
)

NICE_STEPS = (1, 2, 5)


def text_width(text: str, size: float) -> float:
    """An upper estimate of a label's width: a CJK character is one em, any other character 0.62 em."""
    return sum(size if ord(c) > 0x2E7F else 0.62 * size for c in text)


def fit(text: str, size: float, width: float) -> str:
    """``text`` cut (with an ellipsis) so that it is at most ``width`` wide."""
    if text_width(text, size) <= width:
        return text
    while text and text_width(text + "…", size) > width:
        text = text[:-1]
    return text + "…"


def wrap(text: str, size: float, width: float) -> list[str]:
    """Lines of ``text`` at most ``width`` wide (broken at spaces where it can, between CJK characters anywhere)."""
    lines: list[str] = []
    line = ""
    for ch in text:
        if text_width(line + ch, size) > width and line:
            cut = line.rfind(" ")
            if cut > 0 and not ch.isspace():
                lines.append(line[:cut])
                line = line[cut + 1 :]
            else:
                lines.append(line.rstrip())
                line = ""
            if ch.isspace():
                continue
        line += ch
    if line.strip():
        lines.append(line.rstrip())
    return lines or [""]


def integer_step(span: int, max_ticks: int = 5) -> int:
    """The smallest step of 1, 2, 5, 10, 20, 50 … that covers ``span`` in at most ``max_ticks`` intervals."""
    if max_ticks < 1:
        raise ValueError("need at least one interval")
    magnitude = 1
    while True:
        for s in NICE_STEPS:
            step = s * magnitude
            if -(-max(span, 0) // step) <= max_ticks:
                return step
        magnitude *= 10


def integer_ticks(peak: int, max_ticks: int = 5) -> list[int]:
    """Axis ticks for counts up to ``peak``: distinct integers from 0 at a nice step, the last one ≥ ``peak``
    (at least 0 and 1, so that an empty chart still has a scale)."""
    step = integer_step(max(peak, 1), max_ticks)
    top = -(-max(peak, 1) // step) * step
    return list(range(0, top + 1, step))
