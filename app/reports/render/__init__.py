"""The report's formats: CSV, XLSX and PDF (English or Japanese) from its content, each one
embedding the content hash (docs/reporting.md; the contract with the verifier is the "Report
formats" section there)."""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from app.pure.report import content_sha256 as hash_of
from app.reports.render import csv_format, pdf_format, xlsx_format
from app.reports.render.labels import Labels, labels


@dataclass(frozen=True)
class Document:
    data: bytes
    media_type: str
    filename: str


Renderer = Callable[[Mapping[str, Any], str, Labels], bytes]
FORMATS: dict[str, tuple[Renderer, str]] = {
    "csv": (csv_format.render_csv, "text/csv; charset=utf-8"),
    "xlsx": (xlsx_format.render_xlsx, xlsx_format.MEDIA_TYPE),
    "pdf": (pdf_format.render_pdf, pdf_format.MEDIA_TYPE),
}
UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def filename(content: Mapping[str, Any], fmt: str, lang: str) -> str:
    """``green-bond-report-<bond code>-<period label>-<lang>.<ext>``, letters, digits, ``-`` and
    ``_`` only (a header value and a file name on any system)."""
    parts = ["green-bond-report", content["bond"]["code"], content["period"]["label"], lang]
    safe = (UNSAFE.sub("-", part).strip("-") for part in parts)
    return "-".join(p for p in safe if p) + f".{fmt}"


def render(content: dict[str, Any], content_sha256: str, fmt: str, lang: str) -> Document:
    if fmt not in FORMATS:
        raise ValueError(f"format: one of {', '.join(FORMATS)}")
    # Every format embeds the hash as the leaf's commitment: a wrong one would be a false claim.
    if hash_of(content) != content_sha256:
        raise ValueError("content_sha256 is not the hash of the content")
    renderer, media_type = FORMATS[fmt]
    data = renderer(content, content_sha256, labels(lang))
    return Document(data, media_type, filename(content, fmt, lang))
