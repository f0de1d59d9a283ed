"""Who may call the gRPC MediaService: a server interceptor checking ``authorization: Bearer <token>``
call metadata against the API tokens (``sentiric.auth``; the ``admin`` scope: these RPCs play audio
into calls, tap callers' audio and write recordings).

The rule (``serve_media`` applies it):

- without mutual TLS, every call needs an admin token — on loopback too. Loopback is shared by every
  local user and process, and ``StreamAudio`` hands out what a caller says, which the REST API guards
  with a token on loopback as well. Missing → UNAUTHENTICATED, wrong/revoked/expired → UNAUTHENTICATED,
  a read-scope token → PERMISSION_DENIED.
- with mutual TLS (``grpc_tls_client_ca``), the client certificate authenticates; a token, if sent, is
  still checked (a wrong one is refused, not ignored).
- bound beyond loopback without mutual TLS while the admin token is still the default: the edge
  refuses to start (``sentiric.exposure``). Without any TLS, tokens cross the network in clear: the
  edge logs a warning (set ``grpc_tls_cert``/``grpc_tls_key``).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final

import grpc

from sentiric.auth import ADMIN, AuthError, Verifier, bearer_token

METADATA_KEY: Final = "authorization"


if TYPE_CHECKING:
    # Handlers of any request and response type: the interceptor never reads either. (Only the stubs
    # make grpc's classes generic, hence the alias exists for the checker alone.)
    Handler = grpc.RpcMethodHandler[Any, Any]


def _denied(handler: Handler, code: grpc.StatusCode, message: str) -> Handler:
    """A handler of the same shape as ``handler`` that only aborts (nothing of the request is read)."""

    async def abort(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        await context.abort(code, message)

    kinds = {
        (False, False): grpc.unary_unary_rpc_method_handler,
        (False, True): grpc.unary_stream_rpc_method_handler,
        (True, False): grpc.stream_unary_rpc_method_handler,
        (True, True): grpc.stream_stream_rpc_method_handler,
    }
    make = kinds[(bool(handler.request_streaming), bool(handler.response_streaming))]
    return make(
        abort,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


class TokenInterceptor(grpc.aio.ServerInterceptor):
    def __init__(
        self,
        verifier: Verifier,
        *,
        required: bool,
        on_denied: Callable[[str, grpc.StatusCode], None] | None = None,
    ) -> None:
        self.verifier = verifier
        self.required = required
        self.on_denied = on_denied

    def check(self, metadata: Any) -> tuple[grpc.StatusCode, str] | None:
        """None when the call may proceed, else the status and message to refuse it with."""
        values = [v for k, v in (metadata or ()) if k.lower() == METADATA_KEY]
        if not values:
            if self.required:
                return grpc.StatusCode.UNAUTHENTICATED, "authorization: Bearer <admin token> is required"
            return None
        token = bearer_token(values[0] if isinstance(values[0], str) else values[0].decode())
        if len(values) > 1 or token is None:
            return grpc.StatusCode.UNAUTHENTICATED, "one 'authorization: Bearer <token>' metadata entry"
        try:
            principal = self.verifier.bearer(token, time.time())
        except AuthError as exc:
            return grpc.StatusCode.UNAUTHENTICATED, exc.reason
        if not principal.allows(ADMIN):
            return grpc.StatusCode.PERMISSION_DENIED, "the admin scope is required"
        return None

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = await continuation(handler_call_details)
        refusal = self.check(handler_call_details.invocation_metadata)
        if refusal is None or handler is None:
            return handler
        if self.on_denied is not None:
            self.on_denied(handler_call_details.method.rsplit("/", 1)[-1], refusal[0])
        return _denied(handler, *refusal)
