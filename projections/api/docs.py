"""The OpenAPI document and its viewers, behind the same guard as every other route.

FastAPI's own ``/docs``, ``/redoc`` and ``/openapi.json`` are plain Starlette routes that no dependency
reaches, so ``create_app`` turns them off and these take their place. The document declares the bearer
scheme on every operation except the open ones (``security: []``), and the 401/403 answers.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse

from projections.api.auth import OPEN_ROUTES

router = APIRouter(tags=["docs"])
OPENAPI_URL = "/openapi.json"
ERROR = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            has_error_body = "ErrorBody" in schema.get("components", {}).get("schemas", {})
            for path, operations in schema.get("paths", {}).items():
                for method, operation in operations.items():
                    if (method.upper(), path) in OPEN_ROUTES:
                        operation["security"] = []
                        continue
                    answers = operation.setdefault("responses", {})
                    answers.setdefault("401", {"description": "No, or a wrong, revoked or expired token"})
                    answers.setdefault("403", {"description": "The token lacks the scope"})
                    if has_error_body:
                        for status in ("401", "403"):
                            answers[status].update(ERROR)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the schema


@router.get(OPENAPI_URL, include_in_schema=False)
async def openapi_json(request: Request) -> JSONResponse:
    return JSONResponse(request.app.openapi())


@router.get("/docs", include_in_schema=False)
async def swagger_ui(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(openapi_url=OPENAPI_URL, title=f"{request.app.title} — docs")


@router.get("/redoc", include_in_schema=False)
async def redoc(request: Request) -> HTMLResponse:
    return get_redoc_html(openapi_url=OPENAPI_URL, title=f"{request.app.title} — ReDoc")
