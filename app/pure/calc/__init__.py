"""The calculation core: day totals, benchmark methods, the CalTRACK baseline fit, emission
factors, day and month results, attribution.
"""
