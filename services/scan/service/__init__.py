"""Scan's use cases: upload, reuse, signed downloads, the public second factor, legal hold,
retention. Async, taking ports (repository, object store, preparer, clock); no framework code.

The use cases are grouped by module (`uploads`, `access`, `retention`) and offered together
by `ScanService`, the one object the API and the subscribers share.
"""

from __future__ import annotations

from services.scan.service.access import AccessUseCases
from services.scan.service.ports import (
    Clock,
    ObjectStore,
    Preparer,
    Repository,
    RetentionReport,
    ScanConfig,
    SignedUrl,
    UploadOutcome,
    actor_of,
)
from services.scan.service.retention import RetentionUseCases
from services.scan.service.uploads import UploadUseCases

__all__ = [
    "Clock",
    "ObjectStore",
    "Preparer",
    "Repository",
    "RetentionReport",
    "ScanConfig",
    "ScanService",
    "SignedUrl",
    "UploadOutcome",
    "actor_of",
]


class ScanService(UploadUseCases, AccessUseCases, RetentionUseCases):
    """All of scan's use cases."""
