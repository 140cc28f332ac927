"""Security headers on every answer, and the upload size check before anything reads the body.

- ``Content-Security-Policy`` on every answer that has none: scripts, fonts, connections, frames and forms
  only from this site, no plugins, no ``<base>``. No page has inline script or inline event handlers (the per-page
  JS is in static/js, data goes through ``json_script``, which is not run). Styles allow ``'unsafe-inline'``:
  plotly.js inserts its own ``<style>`` element and sets ``style`` attributes on the SVG it draws, and the
  importance and effect bars are widths in ``style`` attributes. Images allow ``data:``: plotly's "download plot"
  and the Swagger UI's icons are data URLs.
- ``Cache-Control: private, no-store`` on every /api/ answer: what an analyst or a token sees is kept by no
  shared cache or browser history.
- A POST to /api/imports/ whose declared ``Content-Length`` is over what the view would take (at most
  MAX_FILES_PER_UPLOAD files of SEISTRIAGE_MAX_UPLOAD_BYTES) is answered 413 here, before the CSRF middleware
  reads ``request.POST`` for a browser session (which parses and spools the whole multipart body first).
"""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from analyst.api.imports import MAX_FILES_PER_UPLOAD

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
)
UPLOAD_PATH = "/api/imports/"


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        if request.path.startswith("/api/"):
            response["Cache-Control"] = "private, no-store"
        return response


class UploadSizeMiddleware:
    """Place before CsrfViewMiddleware (and anything else that may read the body)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST" and request.path == UPLOAD_PATH:
            declared = str(request.META.get("CONTENT_LENGTH") or "0").strip()
            if not (declared.isascii() and declared.isdecimal()):
                return JsonResponse({"detail": f"Content-Length {declared[:40]!r} is not a byte count"}, status=400)
            limit = MAX_FILES_PER_UPLOAD * settings.SEISTRIAGE_MAX_UPLOAD_BYTES
            if int(declared) > limit:
                detail = f"the upload is too large: {int(declared):,} bytes declared, at most {limit:,} bytes"
                return JsonResponse({"detail": detail}, status=413)
        return self.get_response(request)
