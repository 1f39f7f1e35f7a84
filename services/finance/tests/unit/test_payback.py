from decimal import Decimal
from fractions import Fraction

from finance.domain.payback import (
    CostLine,
    PaybackInput,
    RevenueStream,
    StreamKind,
    analyse,
    irr,
    npv,
)


def test_npv_known_value():
    # -1000 + 500/1.1 + 500/1.21 + 500/1.331 = 243.4259...
    assert round(float(npv(Fraction(1, 10), [-1000, 500, 500, 500])), 4) == 243.4260


def test_irr_known_values():
    assert irr([-100, 110]) == Fraction(1, 10) or abs(irr([-100, 110]) - Fraction(1, 10)) < Fraction(1, 10**8)
    # the textbook three-year annuity: IRR = 23.3752%
    assert abs(float(irr([-1000, 500, 500, 500])) - 0.2337519) < 1e-6
    # Excel IRR({-70000,12000,15000,18000,21000,26000}) = 8.663%
    assert abs(float(irr([-70000, 12000, 15000, 18000, 21000, 26000])) - 0.0866309) < 1e-6
    assert irr([100, 100]) is None


def test_analysis_payback_year_and_npv():
    result = analyse(
        PaybackInput(
            investment_fen=100_000,
            years=3,
            discount_rate=Decimal("0.10"),
            revenues=[RevenueStream(StreamKind.PARKING, annual_fen=50_000)],
        )
    )
    assert [f.net_fen for f in result.flows] == [50_000, 50_000, 50_000]
    assert result.payback_year == 2
    assert result.payback_period_years == Decimal("2.00")
    assert result.discounted_payback_year == 3
    assert result.npv_fen == 24_343
    assert result.irr == Decimal("0.233752")


def test_property_fee_growth_and_costs():
    # 0.40 yuan/m²/month over 10,000 m², 95% collected, growing 10% a year; costs 20,000 yuan growing 0
    fee = RevenueStream(
        StreamKind.PROPERTY_FEE,
        fee_fen_per_m2_month=40,
        area_m2=Decimal("10000"),
        collection_rate=Decimal("0.95"),
        growth_rate=Decimal("0.10"),
    )
    result = analyse(
        PaybackInput(
            investment_fen=10_000_000,
            years=10,
            discount_rate=Decimal("0.05"),
            revenues=[fee, RevenueStream(StreamKind.SUBSIDY, annual_fen=500_000, end_year=2)],
            costs=[CostLine("staff", annual_fen=2_000_000)],
        )
    )
    assert result.flows[0].revenue_fen == 4_560_000 + 500_000
    assert result.flows[1].revenue_fen == 5_016_000 + 500_000
    assert result.flows[2].revenue_fen == 5_517_600
    assert result.flows[0].cost_fen == 2_000_000
    assert result.revenue_by_kind_fen["subsidy"] == 1_000_000
    assert result.payback_year is not None and 3 <= result.payback_year <= 5
    cumulative = -10_000_000
    for flow in result.flows:
        cumulative += flow.net_fen
        assert flow.cumulative_fen == cumulative


def test_never_pays_back():
    result = analyse(
        PaybackInput(
            investment_fen=1_000_000,
            years=5,
            discount_rate=Decimal("0.05"),
            revenues=[RevenueStream(StreamKind.PARKING, annual_fen=10_000)],
        )
    )
    assert result.payback_year is None and result.payback_period_years is None
    assert result.npv_fen < 0
