"""The sample businesses a new installation answers with before anything is configured.

Two tenants: the English bicycle shop (Harbour Bikes) is the ``default`` tenant, on every number; its
Turkish twin (Liman Bisiklet) is the tenant ``ornek``, on extension 2000 (``edge.uas.dialplan``'s
sample plan). Their knowledge entries are `streams/engines/sample_knowledge.json` (each names its
tenant); their prompts are the built-in texts of their languages (`streams.dialog.prompts`).

`sample_tenant()` is the ``ornek`` tenant's ``Tenant`` config record, as the API creates it on first
run; until a ``tenant:ornek`` record is on the config topic the edge uses this one.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Final

from schemas import models as m

SAMPLE_TENANT: Final = "ornek"
SAMPLE_TENANT_NAME: Final = "Liman Bisiklet (örnek işletme)"
SAMPLE_TENANT_LANGUAGE: Final = "tr"


def sample_tenant(source: str = "sample") -> m.Tenant:
    """The Turkish sample business's ``Tenant`` record (no SIP domains: its calls come by number)."""
    return m.Tenant(
        event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"sentiric:tenant:{SAMPLE_TENANT}"),
        entity_id=SAMPLE_TENANT,
        occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
        source=source,
        trace_id=f"tenant:{SAMPLE_TENANT}",
        name=SAMPLE_TENANT_NAME,
        domains=(),
        language=SAMPLE_TENANT_LANGUAGE,
        enabled=True,
    )
