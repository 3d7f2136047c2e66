"""The OpenAPI document as the API answers: a 422's `detail` is a list of field errors or one sentence."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """Let HTTPValidationError.detail be a sentence too (routes raise HTTPException(422, detail="..."))."""
    errors = schema.get("components", {}).get("schemas", {}).get("HTTPValidationError")
    if errors is not None:
        listed = errors["properties"]["detail"]
        if "anyOf" not in listed:
            errors["properties"]["detail"] = {
                "anyOf": [{k: v for k, v in listed.items() if k != "title"}, {"type": "string"}],
                "title": "Detail",
            }
    return schema


def install(app: FastAPI) -> None:
    """Wrap `app.openapi` so the cached document carries the corrected error schema."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_errors(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
