"""The viewer's ASGI application: read-only pages over one store.

Security is in :class:`Guard`, around every request: only GET and HEAD; a token when
the server listens beyond loopback; on loopback, only requests addressed to a loopback
host name (a web page elsewhere cannot reach it through DNS rebinding); a strict
Content-Security-Policy (scripts only from the viewer itself, so injected markup could
not run even if it escaped the templates, which autoescape everything).
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from maverick_core.api import MaverickError, QueryError, elapsed, money
from maverick_ui import data, render
from maverick_ui.timeline import layout

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from maverick_core.api import Config

STATIC = Path(__file__).resolve().parent / "static"
CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        # Mermaid styles its SVG with <style> elements and style attributes; styles
        # cannot run code, scripts stay limited to 'self'
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]", "::1")
RUN_STATUSES = ("running", "failed", "interrupted", "completed")
"""The statuses a run can have (the status filter's choices)."""


class Guard:
    """ASGI middleware: method, token and host checks, and the security headers."""

    def __init__(self, app: ASGIApp, token: str | None, port: int) -> None:
        self.app = app
        self.token = token
        self.cookie = f"maverick_ui_{port}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse what the viewer never serves; add the headers to every answer."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        request = Request(scope)
        refusal = self.refusal(request)
        if refusal is not None:
            await refusal(scope, receive, send_secured)
            return
        await self.app(scope, receive, send_secured)

    def refusal(self, request: Request) -> Any:
        """The response that refuses ``request``, or None to let it through."""
        if request.method not in ("GET", "HEAD"):
            return PlainTextResponse("maverick ui is read-only\n", status_code=405)
        if self.token is None:
            host = request.headers.get("host", "").rsplit(":", 1)[0]
            if host not in LOOPBACK_NAMES:
                return PlainTextResponse("maverick ui answers on localhost only\n", 403)
            return None
        given = request.query_params.get("token")
        if given is not None and secrets.compare_digest(given, self.token):
            # keep the token in a cookie and out of the address bar (and the history)
            rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
            target = request.url.path + (f"?{urlencode(rest)}" if rest else "")
            response = RedirectResponse(target, status_code=303)
            response.set_cookie(self.cookie, self.token, httponly=True, samesite="strict", path="/")
            return response
        cookie = request.cookies.get(self.cookie)
        if cookie is not None and secrets.compare_digest(cookie, self.token):
            return None
        return PlainTextResponse(
            "403: this maverick ui needs its token: open the URL `maverick ui` printed\n",
            status_code=403,
        )


def templates() -> Environment:
    """Jinja2 with autoescape on for every template: run data is always escaped."""
    env = Environment(
        loader=PackageLoader("maverick_ui", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = render.when
    env.filters["elapsed"] = elapsed
    env.filters["money"] = money
    env.filters["pretty"] = render.pretty
    env.tests["link"] = render.is_link
    return env


def make_app(
    store: data.ReadOnlyStore,
    config: Config,
    *,
    store_label: str,
    token: str | None,
    port: int,
) -> ASGIApp:
    """The viewer over ``store``; ``token`` is required of every request when set."""
    env = templates()
    label = data.display_url(store_label)

    def page(name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        html = env.get_template(name).render(store_label=label, **context)
        return HTMLResponse(html, status_code=status_code)

    async def runs(request: Request) -> HTMLResponse:
        workflow = request.query_params.get("workflow", "").strip() or None
        status = request.query_params.get("status", "").strip()
        statuses = (status,) if status in RUN_STATUSES else ()
        cursor = request.query_params.get("cursor") or None
        limit = _page_size(request.query_params.get("limit"))
        try:
            found = data.runs_page(store, workflow, statuses, cursor, limit)
        except QueryError as exc:
            return page("missing.html", 400, message=f"This page of runs cannot be shown: {exc}.")
        next_cursor = found.next_cursor
        now = time.time()
        rows = [
            {
                "run_id": r.run_id,
                "workflow": r.workflow,
                "status": r.status,
                "started": r.created_at,
                "duration": data.run_duration(r, now),
                "cost": data.run_cost(r),
            }
            for r in found.runs
        ]
        filters = {
            k: v
            for k, v in (("workflow", workflow), ("status", status), ("limit", str(limit)))
            if v and (k != "limit" or limit != data.PAGE_SIZE)
        }
        next_url = f"/?{urlencode({**filters, 'cursor': next_cursor})}" if next_cursor else None
        return page(
            "runs.html",
            rows=rows,
            workflow=workflow or "",
            status=status if statuses else "",
            statuses=RUN_STATUSES,
            next_url=next_url,
            first_url=f"/?{urlencode(filters)}" if cursor else None,
        )

    def run_context(run_id: str) -> dict[str, Any] | None:
        described = data.describe(config, store, run_id)
        if described is None:
            return None
        return render.run_context(described, config, layout)

    async def run(request: Request) -> HTMLResponse:
        context = run_context(request.path_params["run_id"])
        if context is None:
            unknown = request.path_params["run_id"]
            return page("missing.html", 404, message=f"The store has no run {unknown}.")
        return page("run.html", run=context)

    async def live(request: Request) -> JSONResponse:
        context = run_context(request.path_params["run_id"])
        if context is None:
            return JSONResponse({"status": "missing", "follow": False}, status_code=404)
        answer: dict[str, Any] = {
            "status": context["status"],
            "follow": context["following"],
            "digest": context["digest"],
        }
        if request.query_params.get("digest") != context["digest"]:
            answer["html"] = env.get_template("run_body.html").render(run=context)
        return JSONResponse(answer)

    async def refused(request: Request, exc: Exception) -> HTMLResponse:
        # a store that cannot be read, a run it cannot describe: one line, never a traceback
        return page("missing.html", 500, message=f"This cannot be shown: {exc}.")

    app = Starlette(
        exception_handlers={MaverickError: refused},
        routes=[
            Route("/", runs, methods=["GET"]),
            Route("/runs/{run_id}", run, methods=["GET"]),
            Route("/runs/{run_id}/live", live, methods=["GET"]),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
    )
    return Guard(app, token, port)


def _page_size(text: str | None) -> int:
    """``?limit=N`` (1..500), else the default page size."""
    try:
        return min(max(int(text or data.PAGE_SIZE), 1), 500)
    except ValueError:
        return data.PAGE_SIZE
