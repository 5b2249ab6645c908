"""Imports every domain's models so that ``Base.metadata`` knows all tables (Alembic, tests)."""

from app.bonds.index_models import TokenBlock, TokenIndexCursor, TokenPositionChange
from app.bonds.models import (
    BondToken,
    IssuerKey,
    IssuerTx,
    PersonalInfoContract,
    TokenPosition,
)
from app.core.db import Base
from app.credits.models import (
    CreditBlock,
    CreditContract,
    CreditEvent,
    CreditIndexCursor,
    CreditIssuance,
    CreditProject,
    MonitoringApproval,
    MonitoringReport,
)
from app.impact.models import (
    AssetProgress,
    BaselineFitRecord,
    BenchmarkConfig,
    EmissionFactorVersion,
    ImpactResult,
    MeterDay,
)
from app.ingest.models import BillingPeriod, IngestBatch, Reading, ReadingChange, ReadingImport
from app.investor.models import SiweNonce
from app.ledger.models import (
    ChainDeployment,
    Checkpoint,
    IntegrityMark,
    LogEntry,
    LogState,
    MerkleNode,
)
from app.outbox.models import LogQueue
from app.registry.models import Allocation, Bond, GreenAsset, Meter
from app.reports.models import PublishedReport

__all__ = [
    "Allocation",
    "AssetProgress",
    "Base",
    "BaselineFitRecord",
    "BenchmarkConfig",
    "BillingPeriod",
    "Bond",
    "BondToken",
    "ChainDeployment",
    "Checkpoint",
    "CreditBlock",
    "CreditContract",
    "CreditEvent",
    "CreditIndexCursor",
    "CreditIssuance",
    "CreditProject",
    "EmissionFactorVersion",
    "GreenAsset",
    "ImpactResult",
    "IngestBatch",
    "IntegrityMark",
    "IssuerKey",
    "IssuerTx",
    "LogEntry",
    "LogQueue",
    "LogState",
    "MerkleNode",
    "Meter",
    "MeterDay",
    "MonitoringApproval",
    "MonitoringReport",
    "PersonalInfoContract",
    "PublishedReport",
    "Reading",
    "ReadingChange",
    "ReadingImport",
    "SiweNonce",
    "TokenBlock",
    "TokenIndexCursor",
    "TokenPosition",
    "TokenPositionChange",
]
