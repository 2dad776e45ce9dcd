"""Closed-loop evaluation under distribution shift: statistics, tables, plots, videos."""
