import pytest

from webhooks.domain.patterns import InvalidPattern, matches, normalise_patterns, validate_pattern


@pytest.mark.parametrize(
    ("pattern", "event_type", "expected"),
    [
        ("*", "finance.contribution.paid.v1", True),
        ("finance.*", "finance.contribution.paid.v1", True),
        ("finance.*", "financex.contribution.paid.v1", False),
        ("finance.*", "survey.household.registered.v1", False),
        ("finance.emergency_repair.*", "finance.emergency_repair.approved.v1", True),
        ("finance.emergency_repair.*", "finance.contribution.paid.v1", False),
        ("finance.contribution.paid.v1", "finance.contribution.paid.v1", True),
        ("finance.contribution.paid.v1", "finance.contribution.paid.v2", False),
        ("finance.*.paid.v1", "finance.contribution.paid.v1", True),
        ("finance.*.paid.v1", "finance.contribution.paid.v2", False),
        # the service's own events need an explicit pattern
        ("*", "webhooks.endpoint.disabled.v1", False),
        ("webhooks.*", "webhooks.endpoint.disabled.v1", True),
    ],
)
def test_matches(pattern, event_type, expected):
    assert matches(pattern, event_type) is expected


@pytest.mark.parametrize(
    "bad",
    ["", "Finance.*", "finance.", "finance contribution", "finance.contribution", "a.b.c.d.e.f.g", "x" * 201, "**"],
)
def test_invalid_patterns(bad):
    with pytest.raises(InvalidPattern):
        validate_pattern(bad)


def test_normalise_dedupes_and_bounds():
    assert normalise_patterns(["finance.*", "*", "finance.*"]) == ["*", "finance.*"]
    with pytest.raises(InvalidPattern):
        normalise_patterns([])
    with pytest.raises(InvalidPattern):
        normalise_patterns([f"finance.a{i}.b.v1" for i in range(51)])
    assert len(normalise_patterns([f"finance.a{i}.b.v1" for i in range(50)])) == 50
