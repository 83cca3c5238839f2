"""OpenAPI schema and Swagger UI behind the same authentication as the API, with the Swagger assets
served from the installed fastapi-offline package: no CDN, nothing fetched from outside at run time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from dashboard.auth import CurrentPrincipal
from dashboard.responses import ErrorBody

ASSETS = "/docs-static"


def install_docs(app: FastAPI) -> None:
    """Call on an app created with docs_url, redoc_url and openapi_url set to None."""
    app.mount(ASSETS, StaticFiles(directory=Path(fastapi_offline.__file__).with_name("static")), name="docs")

    @app.get("/openapi.json", include_in_schema=False, response_class=JSONResponse)
    def openapi(_: CurrentPrincipal) -> JSONResponse:
        return JSONResponse(with_coded_errors(app.openapi()))

    @app.get("/docs", include_in_schema=False, response_class=HTMLResponse)
    def docs(_: CurrentPrincipal) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="sharpeyes API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon.png",
        )


def with_coded_errors(spec: dict[str, Any]) -> dict[str, Any]:
    """Every 422 is documented as :class:`~dashboard.responses.ErrorBody`: FastAPI's validation list, or a
    coded error (a date that is no date, a photo of another incident) that the page translates. FastAPI
    itself documents only the list."""
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    if "ErrorBody" not in schemas:
        schemas["ErrorBody"] = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    default = {"$ref": "#/components/schemas/HTTPValidationError"}
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            content = operation.get("responses", {}).get("422", {}).get("content", {}).get("application/json")
            if content is not None and content.get("schema") == default:
                content["schema"] = {"$ref": "#/components/schemas/ErrorBody"}
    return spec
