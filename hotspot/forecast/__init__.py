"""Where a period is heading: the forecaster, its inputs from the history, traces."""
