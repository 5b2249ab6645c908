"""Reading a log export (``GET /v1/audit/export``) for ``gbt-verify``: the file in one pass, each
line parsed as app/pure/audit_formats.py defines it, anything else an UnusableInputError."""

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from web3 import Web3

from app.audit.verify.checks import UnusableInputError
from app.pure.audit_formats import ExportCheckpoint, ExportLeaf, parse_line

Item = ExportLeaf | ExportCheckpoint


def _parse_line(line: str, where: str) -> Item:
    try:
        item = parse_line(line)
    except ValueError as e:
        raise UnusableInputError(f"{where}: {e}") from e
    if isinstance(item, ExportCheckpoint):
        if not Web3.is_address(item.contract):
            raise UnusableInputError(f"{where}: contract_address is not an Ethereum address")
        item = replace(item, contract=Web3.to_checksum_address(item.contract))
    return item


def read_export(path: str) -> Iterator[Item]:
    """Each leaf line, then the checkpoint (UnusableInputError if the file is not an export)."""
    seen_checkpoint = False
    try:
        with Path(path).open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                where = f"{path}:{number}"
                if not line.strip():
                    continue
                if seen_checkpoint:
                    raise UnusableInputError(f"{where}: a line after the checkpoint line")
                item = _parse_line(line, where)
                seen_checkpoint = isinstance(item, ExportCheckpoint)
                yield item
    except (OSError, UnicodeDecodeError) as e:
        raise UnusableInputError(f"cannot read {path}: {e}") from e
    if not seen_checkpoint:
        raise UnusableInputError(f"{path}: no final {{'checkpoint': ...}} line (truncated?)")
