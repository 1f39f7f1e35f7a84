"""Which language a problem response speaks, from the request's Accept-Language."""

from __future__ import annotations

import pytest

from renovation_common.errors import preferred_language


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("zh-CN", "zh"),
        ("zh", "zh"),
        ("zh-Hans-CN", "zh"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        ("en-US,en;q=0.9,zh-CN;q=0.8", "en"),
        ("en;q=0.5, zh;q=0.9", "zh"),
        ("de, zh-CN;q=0.3", "zh"),  # German is not offered: the Chinese tag is the best we have
        ("zh;q=0", "en"),  # q=0 means "not this one"
        ("zh;q=abc", "en"),  # unparsable item: ignored
        ("en, zh", "en"),  # a tie goes to the first listed
        ("*", "en"),
        ("fr", "en"),
        ("", "en"),
        (None, "en"),
        ("x" * 10_000 + ",zh", "en"),  # bounded: only the first 512 characters are read
    ],
)
def test_preferred_language(header, language):
    assert preferred_language(header) == language
