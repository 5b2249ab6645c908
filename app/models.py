"""Imports every domain's models so that ``Base.metadata`` knows all tables (Alembic, tests)."""

from app.core.db import Base
from app.ingest.models import IngestBatch, Reading
from app.registry.models import Allocation, Bond, GreenAsset, Meter

__all__ = ["Allocation", "Base", "Bond", "GreenAsset", "IngestBatch", "Meter", "Reading"]
