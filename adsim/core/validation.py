"""Validation of TOML tables into typed, frozen dataclasses, and `--set` overrides.

Every dataclass field may carry range metadata (`ge`, `gt`, `le`, `lt`, set with `bounded`);
`parse` checks keys, types and ranges and raises one ConfigError naming the dotted key. Overrides
are applied to the raw TOML before validation, so they are checked exactly like file values.
The same validator checks experiment configs and encoder arguments.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tomllib
import types
import typing
from dataclasses import field
from pathlib import Path
from typing import Any, Literal

from adsim.core.errors import ConfigError


def bounded(default: Any, **bounds: float) -> Any:
    """A dataclass field with a default and range bounds (ge, gt, le, lt)."""
    return field(default=default, metadata=bounds)


def digest(obj: Any, length: int = 16) -> str:
    """Stable hex digest of a JSON-able object (settings), for run metadata and cache keys."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:length]


T = typing.TypeVar("T")


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _check_value(tp: Any, value: Any, path: str) -> Any:
    """Validate one value against a type annotation; returns the (possibly converted) value."""
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a table, got {type(value).__name__}")
        return parse(tp, value, path)
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise ConfigError(f"{path}: must be one of {list(typing.get_args(tp))}, got {value!r}")
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _check_value(arg, value, path)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(errors[0])
    if origin is dict:
        key_tp, val_tp = typing.get_args(tp)
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a table, got {type(value).__name__}")
        return {k: _check_value(val_tp, v, f"{path}.{k}") for k, v in value.items()}
    if origin in (list, tuple):
        (item_tp, *_) = typing.get_args(tp)
        if not isinstance(value, list):
            raise ConfigError(f"{path}: expected an array, got {type(value).__name__}")
        return tuple(_check_value(item_tp, v, f"{path}[{i}]") for i, v in enumerate(value))
    if tp is Any:
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{path}: expected a number, got {value!r}")
        if value != value:
            raise ConfigError(f"{path}: must not be NaN")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path}: expected an integer, got {value!r}")
        return value
    if tp in (bool, str):
        if not isinstance(value, tp):
            raise ConfigError(f"{path}: expected {_type_name(tp)}, got {value!r}")
        return value
    raise TypeError(f"unsupported config annotation {tp!r} at {path}")


def _check_bounds(value: Any, meta: typing.Mapping[str, Any], path: str) -> None:
    checks = {"ge": (lambda v, b: v >= b, ">="), "gt": (lambda v, b: v > b, ">"),
              "le": (lambda v, b: v <= b, "<="), "lt": (lambda v, b: v < b, "<")}
    for key, (ok, sign) in checks.items():
        if key in meta and value is not None and not ok(value, meta[key]):
            raise ConfigError(f"{path}: must be {sign} {meta[key]:g}, got {value!r}")


def parse(cls: type[T], data: dict[str, Any], path: str = "") -> T:
    """Build dataclass `cls` from a TOML table, naming the dotted key of any problem."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    prefix = f"{path}." if path else ""
    for key in data:
        if key not in fields:
            raise ConfigError(f"{prefix}{key}: unknown key{did_you_mean(key, fields)} (expected one of {sorted(fields)})")
    values = {}
    for name, f in fields.items():
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(f"{prefix}{name}: required (expected keys {sorted(fields)})")
            continue
        value = _check_value(hints[name], data[name], prefix + name)
        _check_bounds(value, f.metadata, prefix + name)
        values[name] = value
    obj = cls(**values)
    validate = getattr(obj, "validate", None)
    if validate is not None:
        validate(path or cls.__name__)
    return obj


def _parse_override_value(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text  # a bare word is a string


def apply_overrides(raw: dict[str, Any], overrides: typing.Iterable[str]) -> dict[str, Any]:
    """Apply `dotted.key=value` overrides (values in TOML syntax) to a raw config table."""
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set {item!r}: expected dotted.key=value")
        node = raw
        *parents, leaf = key.split(".")
        for i, part in enumerate(parents):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"--set {key}: {'.'.join(parents[: i + 1])} is not a table")
            node = child
        node[leaf] = _parse_override_value(text.strip())
    return raw


def load_raw(path: str | Path) -> dict[str, Any]:
    """Read a TOML file, turning missing files and syntax errors into ConfigError."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read config {path}: {err}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: malformed TOML: {err}") from None


def did_you_mean(word: str, choices) -> str:
    """", did you mean 'x'?" for the closest of `choices` to a mistyped `word`, else ""."""
    import difflib
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f", did you mean {close[0]!r}?" if close else ""
