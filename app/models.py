"""Every table of the service, imported in one place for Alembic and the tests."""

from app.access.models import ApiKey, IdempotencyRecord
from app.db import Base
from app.draws.models import Draw, Outcome, Plan
from app.history import ChangeRecord
from app.ledger.models import Checkpoint, LogEntry, LogHead, LogNode
from app.ledger.witness_models import Cosignature, WitnessState
from app.pools.models import (
    ConflictOfInterest,
    County,
    Enterprise,
    EnterpriseTag,
    ImportBatch,
    Inspection,
    Inspector,
    Organisation,
)

__all__ = [
    "ApiKey",
    "IdempotencyRecord",
    "Base",
    "ChangeRecord",
    "Checkpoint",
    "Cosignature",
    "Draw",
    "LogEntry",
    "LogHead",
    "LogNode",
    "Outcome",
    "Plan",
    "WitnessState",
    "ConflictOfInterest",
    "County",
    "Enterprise",
    "EnterpriseTag",
    "ImportBatch",
    "Inspection",
    "Inspector",
    "Organisation",
]
