"""The MediaService's token check: which call metadata gets through."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import grpc
import pytest

from edge.grpc_auth import TokenInterceptor
from schemas import models as m
from sentiric.auth import Verifier, derive_session_key, new_token

ADMIN = "grpc-admin-token-0123456789"


def interceptor(required: bool):
    reader, admin = new_token(), new_token()
    at = datetime.now(UTC)
    common = {"event_id": uuid.uuid4(), "occurred_at": at, "source": "api", "trace_id": "t", "name": "g"}
    records = {
        t.token_id: m.ApiToken(
            entity_id=t.token_id, secret_sha256=t.secret_sha256, scopes=scopes, created_at=at, **common
        )
        for t, scopes in ((reader, ("read",)), (admin, ("admin",)))
    }
    verifier = Verifier(admin_token=ADMIN, lookup=records.get, session_key=derive_session_key(ADMIN))
    return TokenInterceptor(verifier, required=required), reader, admin


@pytest.mark.parametrize("required", [True, False])
def test_metadata_matrix(required: bool) -> None:
    check, reader, admin = interceptor(required)
    unauthenticated = grpc.StatusCode.UNAUTHENTICATED
    assert check.check((("authorization", f"Bearer {admin.token}"),)) is None
    assert check.check((("Authorization", f"bearer {ADMIN}"), ("trace_id", "t"))) is None
    assert check.check((("authorization", f"Bearer {reader.token}"),))[0] == grpc.StatusCode.PERMISSION_DENIED
    for bad in (
        (("authorization", "Bearer wrong"),),
        (("authorization", admin.token),),  # no scheme
        (("authorization", f"Bearer {admin.token}"), ("authorization", f"Bearer {admin.token}")),
    ):
        assert check.check(bad)[0] == unauthenticated  # a token sent is checked, mTLS or not
    missing = check.check((("trace_id", "t"),))
    assert (missing is not None and missing[0] == unauthenticated) is required
    assert (check.check(None) is not None) is required
