"""Freshness checks on the raw tables (Dagster's freshness-check factories), evaluated by a sensor.

They judge when each raw asset was last loaded, which is what a stalled schedule or a dead
exchange connection stops; the data's own clock is the exchange's (frozen in the simulator), so
the content's latest timestamps are checked by the gates instead (every requested minute
accounted for). Deadlines follow the schedules: snapshots every 5 minutes (warn after 15), the
contracts every hour (after 2 h), the hourly partitions of candles and open interest by 20 past
the next hour (the pipeline runs at 1 past), a day of funding by 02:00 UTC the next day.
"""

from datetime import timedelta

import dagster as dg

from orchestration.assets.ingestion import (
    kucoin_candles_1m,
    kucoin_contracts,
    kucoin_funding_rates,
    kucoin_open_interest,
    kucoin_order_books,
    kucoin_tickers,
    kucoin_trades,
)

FRESHNESS_CHECKS = [
    *dg.build_last_update_freshness_checks(assets=[kucoin_tickers, kucoin_order_books, kucoin_trades], lower_bound_delta=timedelta(minutes=15)),
    *dg.build_last_update_freshness_checks(assets=[kucoin_contracts], lower_bound_delta=timedelta(hours=2)),
    *dg.build_time_partition_freshness_checks(assets=[kucoin_candles_1m, kucoin_open_interest], deadline_cron="20 * * * *", timezone="UTC"),
    *dg.build_time_partition_freshness_checks(assets=[kucoin_funding_rates], deadline_cron="0 2 * * *", timezone="UTC"),
]
raw_freshness_sensor = dg.build_sensor_for_freshness_checks(freshness_checks=FRESHNESS_CHECKS, name="raw_freshness_sensor")
