"""The monitoring report's formats: JSON, CSV and PDF (English or Japanese) from its content
(app/pure/credits.py), each embedding the content hash (docs/credits.md, "Monitoring report").
The green bond report's pieces (app/reports/render) do the work: the document type, the lazy
PDF import, the file names, the CSV tables, the PDF's page, grids and attachment."""

from collections.abc import Callable, Mapping
from typing import Any

from app.credits.render import csv_format
from app.credits.render.labels import labels
from app.pure.encoding import canonical_json
from app.reports.render import (
    PDF_MEDIA_TYPE,
    Document,
    check_hash,
    pdf_libraries,
    safe_filename,
)
from app.reports.render.labels import Labels

JSON_MEDIA_TYPE = "application/json"
Renderer = Callable[[Mapping[str, Any], str, Labels], bytes]


def render_json(content: Mapping[str, Any], content_sha256: str, _: Labels) -> bytes:
    """``{"content": ..., "content_sha256": ...}`` as canonical JSON: the same bytes as the
    PDF's attachment, the same in both languages."""
    return canonical_json({"content": dict(content), "content_sha256": content_sha256})


def _render_pdf(content: Mapping[str, Any], content_sha256: str, words: Labels) -> bytes:
    with pdf_libraries():
        from app.credits.render import pdf_format
    return pdf_format.render_pdf(content, content_sha256, words)


FORMATS: dict[str, tuple[Renderer, str]] = {
    "json": (render_json, JSON_MEDIA_TYPE),
    "csv": (csv_format.render_csv, "text/csv; charset=utf-8"),
    "pdf": (_render_pdf, PDF_MEDIA_TYPE),
}


def filename(content: Mapping[str, Any], fmt: str, lang: str) -> str:
    """``monitoring-report-<project code>-<first day>-<last day>-<lang>.<ext>``."""
    period = content["period"]
    parts = [
        "monitoring-report",
        content["project"]["code"],
        period["first_day"],
        period["last_day"],
        lang,
    ]
    return safe_filename(parts, fmt)


def render_monitoring_report(
    content: Mapping[str, Any], content_sha256: str, fmt: str, lang: str
) -> Document:
    """The report in ``fmt`` (json, csv, pdf) and ``lang`` (en, ja); ``ValueError`` for another
    format or language or a hash that is not the content's; ``PdfUnavailableError`` when this
    machine cannot make PDFs."""
    if fmt not in FORMATS:
        raise ValueError(f"format: one of {', '.join(FORMATS)}")
    words = labels(lang)
    check_hash(content, content_sha256)
    renderer, media_type = FORMATS[fmt]
    return Document(
        renderer(content, content_sha256, words), media_type, filename(content, fmt, lang)
    )
