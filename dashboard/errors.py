"""422 answers that say what was wrong and where, but never echo the offending value back: FastAPI's default
puts each bad input into the response, so a token or password sent in the wrong field would travel back
through proxies and their logs."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from alarms.timefmt import iso


async def validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    detail = [
        {"loc": e.get("loc", ()), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in exc.errors()
    ]
    return JSONResponse({"detail": jsonable_encoder(detail)}, status_code=422)


class CodedError(HTTPException):
    """An error the operator page shows: a stable `code` (and its `params`) that the page translates, beside
    the English `detail` for API clients and logs."""

    def __init__(self, status_code: int, code: str, detail: str, **params: Any) -> None:
        super().__init__(status_code, detail)
        self.code = code
        self.params = params


async def coded_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CodedError)
    body = {"detail": exc.detail, "code": exc.code, "params": jsonable_encoder(exc.params)}
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(CodedError, coded_error)


def stale_conflict(exc: Any) -> CodedError:
    """409 for an action made on an old version: who did what since, for the page to say (names, not ids)."""
    changes = [
        {"actor": c["actor"], "action": c["action"], "ts": iso(c["ts"]), "version": c["version"]}
        for c in exc.changes
    ]
    return CodedError(
        409,
        "stale_version",
        f"the incident changed since version you saw; now at version {exc.current_version}: {changes}",
        current_version=exc.current_version,
        state=exc.state,
        changes=changes,
    )
