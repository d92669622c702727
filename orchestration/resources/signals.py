"""Where signal files are dropped for the signals sensor (ZMART_SIGNALS_DIR, default .zmart/signals/inbox)."""

import dagster as dg


class SignalsInbox(dg.ConfigurableResource):
    """The drop folder: each new or changed .jsonl, .ndjson or .csv file in it is imported once.

    Write a file under another name (or elsewhere) and rename it in: a file still being written
    would be imported as it stands, and its final version again as a changed file.
    """

    path: str
