"""Typed reads of a decoded leaf's fields, for the parsers of app/pure/leaves.py: a missing
field or one of the wrong JSON type is a ValueError naming the leaf kind and the field. Pure."""

from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any


class LeafFields:
    """Typed reads of one decoded leaf; a missing field or one of the wrong JSON type is a
    ValueError naming it."""

    def __init__(self, value: Mapping[str, Any], kind: str) -> None:
        if value.get("type") != kind:
            raise ValueError(f"not a {kind} leaf")
        self.value = value
        self.kind = kind

    def _get(self, key: str, json_type: type, nullable: bool = False) -> Any:
        if key not in self.value:
            raise ValueError(f"{self.kind} leaf: missing {key!r}")
        item = self.value[key]
        if item is None and nullable:
            return None
        # bool is an int in Python, not in JSON
        if isinstance(item, bool) != (json_type is bool) or not isinstance(item, json_type):
            raise ValueError(f"{self.kind} leaf: {key!r} must be of JSON type {json_type.__name__}")
        return item

    def integer(self, key: str) -> int:
        value: int = self._get(key, int)
        return value

    def optional_integer(self, key: str) -> int | None:
        value: int | None = self._get(key, int, nullable=True)
        return value

    def text(self, key: str) -> str:
        value: str = self._get(key, str)
        return value

    def boolean(self, key: str) -> bool:
        value: bool = self._get(key, bool)
        return value

    def mapping(self, key: str) -> dict[str, Any]:
        value: dict[str, Any] = self._get(key, dict)
        return value

    def day(self, key: str) -> date:
        try:
            return date.fromisoformat(self.text(key))
        except ValueError as e:
            raise ValueError(f"{self.kind} leaf: {key!r}: {e}") from e

    def decimal(self, key: str) -> Decimal:
        try:
            return Decimal(self.text(key))
        except InvalidOperation as e:
            raise ValueError(f"{self.kind} leaf: {key!r} is not a decimal") from e

    def optional_decimal(self, key: str) -> Decimal | None:
        return None if self._get(key, str, nullable=True) is None else self.decimal(key)

    def integers(self, key: str) -> tuple[int, ...]:
        items = self._get(key, list)
        if not all(isinstance(i, int) and not isinstance(i, bool) for i in items):
            raise ValueError(f"{self.kind} leaf: {key!r} must be a list of integers")
        return tuple(items)

    def texts(self, key: str) -> tuple[str, ...]:
        items = self._get(key, list)
        if not all(isinstance(i, str) for i in items):
            raise ValueError(f"{self.kind} leaf: {key!r} must be a list of strings")
        return tuple(items)
