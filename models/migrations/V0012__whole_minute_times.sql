-- Whole minutes, stated by the tables: a 1-minute candle opens on a whole minute (the loader
-- already refuses any other open time, rule timestamp_not_minute_aligned), and a load requests
-- spans of whole minutes (the loads' windows are whole hours). The gates' minute rules and
-- marts.fct_data_quality read the stored candles as a bit per minute of each hour (bit_or of
-- 1 << minute of the hour) instead of looking every requested minute up (21.6M of them for 500
-- contracts x 30 days): exact only if no open time falls between two minutes.
--
-- date_bin, not date_trunc: it is immutable (no time zone), and binning from a UTC origin is the
-- whole minute in every time zone, including those with offsets in seconds.

alter table raw.candles_1m
    add constraint candles_1m_open_time_whole_minute_ck
    check (open_time = date_bin('1 minute', open_time, timestamptz '2000-01-01 00:00:00+00'));

alter table raw.load_batch_symbols
    add constraint load_batch_symbols_span_whole_minutes_ck
    check (span_start = date_bin('1 minute', span_start, timestamptz '2000-01-01 00:00:00+00')
           and span_end = date_bin('1 minute', span_end, timestamptz '2000-01-01 00:00:00+00'));
