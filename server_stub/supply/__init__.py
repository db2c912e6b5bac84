"""Supply intelligence: forecast, replacement checks, reorder policy, order lifecycle, backtest (pure code)."""
