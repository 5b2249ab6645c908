"""Ingestion: signed meter batches checked, stored append-only and queued for the log."""
