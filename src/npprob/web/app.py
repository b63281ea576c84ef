"""``npprob serve``: the clinician's page and a JSON API, as one Starlette (ASGI) app.

Every answer comes from :func:`npprob.decision.answer.answer_patient`, the code path
of ``npprob diagnose --json``, and every record is read by the JSON-record rules, so
the page, the API and the command line agree to the digit and refuse bad input with
the same words. The app works offline (no CDN, fonts or inline scripts), sends
strict security headers, caps request bodies, and writes no patient data to disk or
logs.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from npprob import __version__
from npprob.decision.answer import PatientAnswer, answer_patient
from npprob.diagnosis import load_model
from npprob.diagnosis.model import setting_of
from npprob.diagnosis.result import DISCLAIMER
from npprob.errors import EvidenceError, NpprobError
from npprob.io.patient_record import PatientRecord
from npprob.io.patients import parse_patient_record
from npprob.io.resources import patient_schema_path
from npprob.web.figures import explanation_svg, interval_svg
from npprob.web.form import form_groups, form_values, record_from_form

__all__ = ["MAX_BODY_BYTES", "SECURITY_HEADERS", "create_app"]

HERE = Path(__file__).resolve().parent

#: Largest request body accepted (bytes): a record is a few kilobytes.
MAX_BODY_BYTES = 256 * 1024

#: Sent with every response. Scripts only from the app itself (no inline script),
#: no framing, no referrer.
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}


class _Guard:
    """ASGI middleware: security headers on every response, request bodies capped."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body_bytes):
            await _too_large(self.max_body_bytes)(scope, receive, send)
            return
        # The whole body is read here, up to the limit, before the app sees it: a chunked
        # body (no content-length) past the limit gets the same 413, not an error from
        # inside the app. Below the limit it is small enough to hold.
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > self.max_body_bytes:
                await _too_large(self.max_body_bytes)(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                for key, value in SECURITY_HEADERS.items():
                    if key.encode() not in present:
                        headers.append((key.encode(), value.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, replay, with_headers)


def _too_large(limit: int) -> Response:
    return JSONResponse(
        {"error": f"request body larger than {limit:,} bytes"},
        status_code=413,
        headers=SECURITY_HEADERS,
    )


def _json(data: object, status_code: int = 200) -> Response:
    # The CLI's encoder (NaN stays NaN), so the API's JSON is the command line's.
    return Response(json.dumps(data, indent=2) + "\n", status_code, media_type="application/json")


def _error(message: str, status_code: int = 422) -> Response:
    return _json({"error": message}, status_code)


def _probability(p: float) -> str:
    """A probability as the page shows it: two decimals, the first digit near 0 and 1."""
    if not math.isfinite(p):
        return "n/a"
    if 0.01 <= p <= 0.99:
        return f"{p:.2f}"
    if p < 0.0001:
        return "< 0.0001"
    if p > 0.9999:
        return "> 0.9999"
    digits = max(2, -math.floor(math.log10(p if p < 0.5 else 1.0 - p)))
    return f"{p:.{digits}f}"


def create_app(
    model: str | None = None,
    setting: str | None = None,
    *,
    max_body_bytes: int = MAX_BODY_BYTES,
    allow_unconverged: bool = False,
) -> ASGIApp:
    """The ASGI app of ``npprob serve``.

    Parameters
    ----------
    model : str, optional
        Model name or folder (default: the shipped default model).
    setting : str, optional
        Care setting of every record, as ``npprob diagnose --setting`` (it overrides a
        record's own); without it, a record's setting or the model's case mix.
    max_body_bytes : int
        Largest request body accepted; larger ones get HTTP 413.
    allow_unconverged : bool
        Serve a model whose sampler diagnostics failed (see
        :func:`~npprob.diagnosis.load_model`).

    Returns
    -------
    ASGI application
    """
    diagnostic_model = load_model(model, allow_unconverged=allow_unconverged)
    network = diagnostic_model.network
    if setting is not None:
        diagnostic_model.in_setting(setting)  # an unknown setting fails at start
    groups = form_groups(network)
    schema_text = patient_schema_path().read_text(encoding="utf-8")
    templates = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    templates.filters["probability"] = _probability

    def answer(record: PatientRecord, *, explain: bool = True) -> PatientAnswer:
        # As `npprob diagnose --setting`: the server's setting, when given, is every record's.
        return answer_patient(
            record, diagnostic_model, setting=setting or setting_of(record), explain=explain
        )

    def page(
        values: dict[str, str], result: PatientAnswer | None = None, error: str | None = None,
        record_text: str = "", status_code: int = 200,
    ) -> HTMLResponse:  # fmt: skip
        context: dict[str, Any] = {
            "groups": groups,
            "values": values,
            "error": error,
            "disclaimer": DISCLAIMER,
            "version": __version__,
            "model": diagnostic_model.info(),
            "default_setting": setting,
            "record_text": record_text,
            "answer": None,
        }
        if result is not None:
            d = result.diagnosis
            context["answer"] = {
                "d": d,
                "json": result.to_dict(),
                "interval_svg": interval_svg(
                    d.p_neuropathic, d.credible_interval, d.p_neuropathic_draws, d.draw_weights
                ),
                "explanation_svg": explanation_svg(
                    [
                        (f"{e.finding.replace('_', ' ')} = {e.state}", e.change)
                        for e in d.explanation[:10]
                    ]
                ),
                "setting": result.model.info()["setting"],
            }
        html = templates.get_template("page.html").render(**context)
        return HTMLResponse(html, status_code=status_code)

    async def read_form(request: Request) -> tuple[PatientRecord, dict[str, str], str]:
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind not in ("application/x-www-form-urlencoded", "multipart/form-data"):
            raise EvidenceError(
                f"the page takes a form (application/x-www-form-urlencoded or multipart/"
                f"form-data), not {kind or 'a body without a content type'}; the JSON API "
                "is POST /api/diagnose."
            )
        # Uploads are spooled in memory up to the body limit, and closed here.
        content = b""
        try:
            async with request.form() as form:
                fields = {k: v for k, v in form.items() if isinstance(v, str)}
                upload = form.get("record_file")
                if upload is not None and not isinstance(upload, str):
                    content = await upload.read()
                files = [k for k, v in form.multi_items() if not isinstance(v, str)]
        except HTTPException as exc:  # malformed multipart, too many fields or files
            raise EvidenceError(f"the form cannot be read: {exc.detail}.") from None
        if any(k != "record_file" for k in files):
            raise EvidenceError("only 'record_file' may be a file; give findings as form values.")
        pasted = fields.pop("record_json", "").strip()
        if content.strip():
            try:
                pasted = content.decode("utf-8-sig")
            except UnicodeDecodeError:
                raise EvidenceError("the uploaded record is not UTF-8 text.") from None
        focus = fields.pop("focus", "")
        if pasted:
            record = parse_patient_record(pasted, network, name="the record")
            values = form_values(record.to_mapping(), network)
            return record, {**values, "focus": focus}, pasted
        mapping = record_from_form(fields, network)
        record = PatientRecord.from_mapping(network, mapping, name="the form")
        return record, {**form_values(mapping, network), "focus": focus}, ""

    async def index(request: Request) -> Response:
        if request.method == "GET":
            return page({})
        try:
            record, values, text = await read_form(request)
        except NpprobError as exc:
            return page({}, error=str(exc), status_code=422)
        try:
            result = await run_in_threadpool(answer, record)
        except NpprobError as exc:
            return page(values, error=str(exc), record_text=text, status_code=422)
        # The pasted record is now in the form; not echoed back, so that later edits of
        # the form (and live updates) are what the next answer reads.
        return page(values, result)

    async def download(request: Request) -> Response:
        try:
            record, _, _ = await read_form(request)
        except NpprobError as exc:
            return _error(str(exc))
        return Response(
            json.dumps(record.to_mapping(), indent=2) + "\n",
            media_type="application/json",
            headers={"content-disposition": 'attachment; filename="patient.json"'},
        )

    async def api_record(request: Request) -> PatientRecord:
        body = await request.body()
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise EvidenceError(f"the request body is not UTF-8 text ({exc.reason}).") from None
        return parse_patient_record(text, network, name="the request body")

    async def api_diagnose(request: Request) -> Response:
        try:
            record = await api_record(request)
            return _json((await run_in_threadpool(answer, record)).to_dict())
        except NpprobError as exc:
            return _error(str(exc))

    async def api_treat(request: Request) -> Response:
        try:
            record = await api_record(request)
            result = await run_in_threadpool(answer, record, explain=False)
            return _json(result.treatments_dict())
        except NpprobError as exc:
            return _error(str(exc))

    async def api_schema(request: Request) -> Response:
        return Response(schema_text, media_type="application/schema+json")

    async def api_health(request: Request) -> Response:
        info = diagnostic_model.in_setting(setting).info()
        return _json({"status": "ok", "version": __version__, "model": info})

    async def openapi(request: Request) -> Response:
        return _json(_openapi_document(json.loads(schema_text)))

    routes = [
        Route("/", index, methods=["GET", "POST"]),
        Route("/record.json", download, methods=["POST"]),
        Route("/api/diagnose", api_diagnose, methods=["POST"]),
        Route("/api/treat", api_treat, methods=["POST"]),
        Route("/api/schema", api_schema, methods=["GET"]),
        Route("/api/health", api_health, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]
    return _Guard(Starlette(routes=routes), max_body_bytes)


def _openapi_document(patient_schema: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI 3.1 description of the JSON API."""
    record = {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Patient"}}},
    }
    error = {
        "description": "The record breaks a rule: the message is the command line's",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    too_large = {"description": f"Body larger than {MAX_BODY_BYTES:,} bytes"}
    schema = {k: v for k, v in patient_schema.items() if k != "$schema"}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "npprob",
            "version": __version__,
            "description": "P(neuropathic pain) with its credible interval, the reasons and a "
            "ranked, contraindication-aware treatment list. " + DISCLAIMER,
        },
        "paths": {
            "/api/diagnose": {
                "post": {
                    "summary": "The answer of `npprob diagnose --json` for one patient record",
                    "requestBody": record,
                    "responses": {
                        "200": {"description": "The diagnosis with `treatments`"},
                        "413": too_large,
                        "422": error,
                    },
                }
            },
            "/api/treat": {
                "post": {
                    "summary": "The answer of `npprob treat --json` for one patient record",
                    "requestBody": record,
                    "responses": {
                        "200": {"description": "`treatments`"},
                        "413": too_large,
                        "422": error,
                    },
                }
            },
            "/api/schema": {
                "get": {
                    "summary": "The JSON Schema of a patient record",
                    "responses": {"200": {"description": "JSON Schema"}},
                }
            },
            "/api/health": {
                "get": {
                    "summary": "Liveness, version and the model served",
                    "responses": {"200": {"description": "ok"}},
                }
            },
        },
        "components": {
            "schemas": {
                "Patient": schema,
                "Error": {
                    "type": "object",
                    "properties": {"error": {"type": "string"}},
                    "required": ["error"],
                },
            }
        },
    }
