"""The outbox: what every domain queues, in its own transaction, for the log (below the domains, so
none imports the ledger).
"""
