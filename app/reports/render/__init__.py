"""The report's formats: CSV, XLSX and PDF (English or Japanese) from its content, each one
embedding the content hash (docs/reporting.md)."""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Document:
    data: bytes
    media_type: str
    filename: str


def render(content: dict[str, Any], content_sha256: str, fmt: str, lang: str) -> Document:
    raise NotImplementedError(fmt)
