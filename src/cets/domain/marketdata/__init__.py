"""Market data from trades: K-lines at 1m .. 1M aligned to the Asia/Shanghai trading day, and the
daily statistics (open, high, low, VWAP close; listed and block volume and amount).

Pure like the rest of `cets.domain`: trades and times come in, bars go out.
"""
