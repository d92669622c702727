"""The exchange client's pacing: ccxt's own throttler, configured by the client, never spends more
than the weight budget in any 30 s, and lets a request through for each concurrent slot at once."""

import asyncio
import itertools
import time

import pytest

from orchestration.resources.exchange import KucoinFuturesResource
from orchestration.settings import KUCOIN_PUBLIC_WEIGHT_BUDGET

KLINE_COST = 6  # ccxt's cost of /api/v1/kline/query (twice KuCoin's weight of 3)
WINDOW_MS = 30_000


def bucket(budget: int, concurrency: int) -> dict[str, float]:
    client = KucoinFuturesResource(mode="sim", weight_budget=budget, max_concurrency=concurrency).client()
    return client._exchange.throttler.config  # noqa: SLF001 (the throttler ccxt paces every request with)


@pytest.mark.parametrize(("budget", "concurrency"), [(KUCOIN_PUBLIC_WEIGHT_BUDGET, 8), (KUCOIN_PUBLIC_WEIGHT_BUDGET, 1), (30, 8), (10**9, 8)])
def test_no_30_seconds_spend_more_than_the_budget(budget: int, concurrency: int) -> None:
    config = bucket(budget, concurrency)
    # a leaky bucket lets a request through while its tokens are not negative: what it spends in
    # t ms is at most its capacity, one request's cost and t ms of refill
    most_in_a_window = config["capacity"] + KLINE_COST + WINDOW_MS * config["refillRate"]
    assert most_in_a_window <= 2 * budget * (1 + 1e-12)


@pytest.mark.parametrize("concurrency", [1, 8, 16])
def test_the_bucket_holds_a_kline_request_for_each_concurrent_slot(concurrency: int) -> None:
    config = bucket(10**9, concurrency)
    assert config["capacity"] + KLINE_COST >= concurrency * KLINE_COST  # the slots are not paced one by one


def test_ccxts_throttler_keeps_to_the_bound_the_budget_is_checked_against() -> None:
    """The bound above is a model of ccxt's throttler: check it on the grant times of real requests' costs."""
    config = bucket(KUCOIN_PUBLIC_WEIGHT_BUDGET, 8)

    async def grant_times(n: int) -> tuple[float, list[float]]:
        client = KucoinFuturesResource(mode="sim", weight_budget=KUCOIN_PUBLIC_WEIGHT_BUDGET, max_concurrency=8).client()
        times: list[float] = []

        async def one() -> None:
            await client._exchange.throttle(KLINE_COST)  # noqa: SLF001
            times.append(time.perf_counter() * 1000)

        started = time.perf_counter() * 1000
        await asyncio.gather(*(one() for _ in range(n)))
        await client._exchange.close()  # noqa: SLF001
        return started, times

    started, times = asyncio.run(grant_times(40))  # 1.5 s at KuCoin's budget
    assert times == sorted(times) and len(times) == 40
    # A grant's time is taken when its task resumes, after ccxt granted it and before ccxt grants
    # the next one (the throttler yields to the granted task first): request i was granted after
    # times[i - 1], request j before times[j].
    before = [started, *times[:-1]]
    for i, j in itertools.combinations_with_replacement(range(len(times)), 2):
        spent = (j - i + 1) * KLINE_COST
        assert spent <= config["capacity"] + KLINE_COST + (times[j] - before[i]) * config["refillRate"] + 1e-9, (i, j)
