"""Contract ids an exchange should never send, for the ``hostile_symbols`` fault.

A loader that builds SQL, file paths, log lines or URLs from exchange ids must survive these:
they are listed in contracts/active like any contract, and every other endpoint refuses them
with KuCoin's 400100, as it refuses any id it does not know.
"""

from __future__ import annotations

HOSTILE_SYMBOLS: tuple[str, ...] = (
    "X'; DROP TABLE raw.candles_1m;--",
    "Robert'); DELETE FROM raw.contracts WHERE ('1'='1",
    '" OR "1"="1',
    "../../../../etc/passwd",
    "..\\..\\windows\\win.ini",
    " XBTUSDTM ",  # a real id with whitespace around it
    "TAB\tNEW\nLINEUSDTM",
    "NUL\x00BYTEUSDTM",
    "ÄÖÜ€🚀USDTM",
    "<script>alert(1)</script>",
    "%27%3B--USDTM",
    "L" * 300 + "USDTM",
)
