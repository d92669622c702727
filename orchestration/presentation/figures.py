"""The portfolio analytics' headline figures and how they are written, shared by the demo's
terminal tables and the HTML report."""

from __future__ import annotations

from decimal import Decimal

PERIOD_ORDER = ("all", "30d", "7d", "24h")
# the headline figures of marts.fct_portfolio_analytics: column, label, format (see figure)
HEADLINE_FIGURES = (
    ("cumulative_return", "cumulative return", "signed"),
    ("annual_volatility", "annualised volatility", "percent"),
    ("sharpe_ratio", "Sharpe", "ratio"),
    ("sortino_ratio", "Sortino", "ratio"),
    ("max_drawdown", "max drawdown", "signed"),
    ("value_at_risk_95", "VaR 95 (1h)", "signed"),
    ("conditional_value_at_risk_95", "CVaR 95 (1h)", "signed"),
    ("beta", "beta to BTC", "ratio"),
    ("average_turnover", "average turnover", "percent"),
    ("average_pairwise_correlation", "avg pairwise correlation", "ratio"),
    ("diversification_ratio", "diversification ratio", "ratio"),
)


def figure(value: object, kind: str) -> str:
    """A fraction as a percentage with two decimals (signed: a return or loss), a ratio with two
    decimals; "n/a" for a null."""
    if value is None:
        return "n/a"
    if not isinstance(value, (int, float, Decimal)):
        raise TypeError(f"figure: {value!r} is not a number")
    if kind == "signed":
        return f"{float(value):+.2%}"
    if kind == "percent":
        return f"{float(value):.2%}"
    if kind == "ratio":
        return f"{float(value):.2f}"
    raise ValueError(f"figure: kind {kind!r} is not one of signed, percent, ratio")
