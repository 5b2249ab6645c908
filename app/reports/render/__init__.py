"""The report's formats: CSV, XLSX and PDF (English or Japanese) from its content, each one
embedding the content hash (docs/reporting.md; the contract with the verifier is the "Report
formats" section there)."""

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from app.pure.report import content_sha256 as hash_of
from app.reports.render import csv_format, xlsx_format
from app.reports.render.labels import Labels, labels

PDF_MEDIA_TYPE = "application/pdf"


class PdfUnavailableError(RuntimeError):
    """WeasyPrint cannot load its system libraries (Pango) on this machine."""


@dataclass(frozen=True)
class Document:
    data: bytes
    media_type: str
    filename: str


Renderer = Callable[[Mapping[str, Any], str, Labels], bytes]


@contextmanager
def pdf_libraries() -> Iterator[None]:
    """Around the import of a PDF renderer, which is imported on first use: WeasyPrint loads
    Pango when imported, and a machine without it still serves every other format (and the rest
    of the service). A failed import is a ``PdfUnavailableError`` saying what to install."""
    try:
        yield
    except (OSError, ImportError) as e:  # OSError: cannot load Pango; ImportError: no WeasyPrint
        raise PdfUnavailableError(
            "PDF reports need Pango and a Japanese font (Debian: apt-get install "
            "libpango-1.0-0 libpangoft2-1.0-0 fonts-ipafont-gothic, or `make system-packages`)"
            f": {e}"
        ) from e


def _render_pdf(content: Mapping[str, Any], content_sha256: str, words: Labels) -> bytes:
    with pdf_libraries():
        from app.reports.render import pdf_format
    return pdf_format.render_pdf(content, content_sha256, words)


FORMATS: dict[str, tuple[Renderer, str]] = {
    "csv": (csv_format.render_csv, "text/csv; charset=utf-8"),
    "xlsx": (xlsx_format.render_xlsx, xlsx_format.MEDIA_TYPE),
    "pdf": (_render_pdf, PDF_MEDIA_TYPE),
}
UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def safe_filename(parts: Iterable[str], ext: str) -> str:
    """The parts joined by ``-``, letters, digits, ``-`` and ``_`` only (a header value and a
    file name on any system), then ``.<ext>``."""
    safe = (UNSAFE.sub("-", part).strip("-") for part in parts)
    return "-".join(p for p in safe if p) + f".{ext}"


def filename(content: Mapping[str, Any], fmt: str, lang: str) -> str:
    """``green-bond-report-<bond code>-<period label>-<lang>.<ext>``."""
    parts = ["green-bond-report", content["bond"]["code"], content["period"]["label"], lang]
    return safe_filename(parts, fmt)


def check_hash(content: Mapping[str, Any], content_sha256: str) -> None:
    """Every format embeds the hash as the content's commitment: a wrong one would be a false
    claim."""
    if hash_of(dict(content)) != content_sha256:
        raise ValueError("content_sha256 is not the hash of the content")


def render(content: dict[str, Any], content_sha256: str, fmt: str, lang: str) -> Document:
    if fmt not in FORMATS:
        raise ValueError(f"format: one of {', '.join(FORMATS)}")
    check_hash(content, content_sha256)
    renderer, media_type = FORMATS[fmt]
    data = renderer(content, content_sha256, labels(lang))
    return Document(data, media_type, filename(content, fmt, lang))
