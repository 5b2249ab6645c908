"""Shared infrastructure every domain uses: settings, database engine and types, errors, admin and
API-key security, paging, HTTP caching, request guards, migrations, locks, child processes.
"""
