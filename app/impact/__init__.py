"""Impact: benchmark configurations, emission factors, meter-day totals, day and month results
(computed by app.pure.calc), bond roll-ups, the impact job and the admin routes.
"""
