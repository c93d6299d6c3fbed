"""Generic TOML <-> frozen-dataclass machinery, with errors that name the file and the key.

Nothing here knows the experiment schema (that is :mod:`cnnjax.config`). A dataclass field's
type hint drives the conversion: ``bool``, ``int``, ``float`` (ints are widened), ``str``,
``Literal[...]``, ``dict[str, Any]`` (a table, kept as is), a nested dataclass (a table) and
unions of those with ``None``. An optional table (``X | None`` with ``X`` a dataclass) is
switched off by the string ``"none"``, so ``--set a.table=none`` removes a table the file
gives. "Open" dataclasses collect their unknown keys into one ``dict`` field instead of
rejecting them (the caller checks those names itself).

>>> from cnnjax.config import ModelConfig, OptimizerConfig
>>> build(ModelConfig, {"name": "lenet5", "num_classes": 10}, source="<demo>")
ModelConfig(name='lenet5', num_classes=10)
>>> build(OptimizerConfig, {"learning_rate": 1, "schedule": "none"}, source="<demo>")
OptimizerConfig(name='adam', learning_rate=1.0, schedule=None, args={})
>>> build(ModelConfig, {"nmae": "lenet5"}, source="<demo>")
Traceback (most recent call last):
...
cnnjax._toml_dataclass.ConfigError: <demo>: `nmae`: unknown key
"""

from __future__ import annotations

import dataclasses
import json
import math
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

# The string that switches an optional table off (``--set optimizer.schedule=none``).
NONE = "none"


class ConfigError(ValueError):
    """A bad config: the message names the file (``source``) and the dotted ``key``."""

    def __init__(self, source: str, key: str | None, message: str):
        self.source, self.key = source, key
        where = f"`{key}`: " if key else ""
        super().__init__(f"{source}: {where}{message}")


class ConfigTypeError(ConfigError, TypeError):
    """A config value of the wrong type."""


def read_toml(path: str | Path) -> dict[str, Any]:
    """Parse the TOML file ``path``; every failure is one :class:`ConfigError` line.

    Raises:
        ConfigError: the file cannot be read, is not UTF-8 (the message gives the byte
            offset and the byte) or is not valid TOML.
    """
    source = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise ConfigError(source, None, f"cannot read the config file: {e.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise ConfigError(
            source,
            None,
            f"not UTF-8 text: byte 0x{data[e.start]:02x} at byte offset {e.start} (line {line}); "
            "TOML files must be UTF-8, re-save it as UTF-8",
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(source, None, f"invalid TOML: {e}") from None


def parse_override(item: str, source: str = "--set") -> tuple[str, Any]:
    """Split ``"a.b=value"`` into the dotted key and the TOML-parsed value.

    >>> parse_override("train.epochs=3"), parse_override("optimizer.name=sgd")
    (('train.epochs', 3), ('optimizer.name', 'sgd'))
    """
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError(source, None, f"--set expects KEY=VALUE with a dotted KEY, got {item!r}")
    try:
        value = tomllib.loads(f"v = {text.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = text.strip()
    return key, value


def apply_override(raw: dict[str, Any], item: str, source: str) -> None:
    """Set ``raw[a][b] = value`` for ``item = "a.b=value"``, creating tables as needed."""
    key, value = parse_override(item, source)
    parts = key.split(".")
    node = raw
    for i, part in enumerate(parts[:-1]):
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            dotted = ".".join(parts[: i + 1])
            raise ConfigError(source, dotted, f"is not a table, cannot set --set {key}")
    node[parts[-1]] = value


def build(
    cls: type,
    raw: Any,
    *,
    source: str,
    prefix: str = "",
    open_tables: Mapping[type, str] | None = None,
) -> Any:
    """Validate the mapping ``raw`` into the dataclass ``cls`` (recursively).

    Args:
        cls: a dataclass; a field named ``source`` is never read from ``raw``.
        raw: the TOML-shaped mapping.
        source: the file, for messages.
        prefix: the dotted key of ``raw`` (``"optimizer."``), for messages.
        open_tables: ``{dataclass: field}``: that dataclass keeps its unknown keys in the
            ``dict`` field named, instead of rejecting them.

    Raises:
        ConfigError: an unknown or missing key, or an impossible value (``Literal``).
        ConfigTypeError: a value of the wrong type.
    """
    open_tables = open_tables or {}
    if not isinstance(raw, Mapping):
        raise ConfigTypeError(source, prefix.rstrip("."), f"must be a table, got {raw!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.name != "source"}
    kwargs: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in raw.items():
        dotted = f"{prefix}{key}"
        if key not in names or open_tables.get(cls) == key:
            if cls not in open_tables:
                raise ConfigError(source, dotted, "unknown key")
            extra[key] = value
            continue
        kwargs[key] = _convert(hints[key], value, dotted, source, open_tables)
    if extra:
        kwargs[open_tables[cls]] = extra
    for f in dataclasses.fields(cls):
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if required and f.name not in kwargs:
            raise ConfigError(source, f"{prefix}{f.name}", "is required")
    return cls(**kwargs)


def _convert(hint: Any, value: Any, dotted: str, source: str, open_tables) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        if value == NONE and type(None) in args and any(map(dataclasses.is_dataclass, options)):
            return None
        for option in options:  # try each non-None member; the first that fits wins
            try:
                return _convert(option, value, dotted, source, open_tables)
            except ConfigTypeError:
                continue
        names = " or ".join(type_name(o) for o in options)
        raise ConfigTypeError(source, dotted, f"must be {names}, got {value!r}")
    if origin is Literal:
        if value not in args:
            raise ConfigError(source, dotted, f"must be one of {list(args)}, got {value!r}")
        return value
    if dataclasses.is_dataclass(hint):
        return build(hint, value, source=source, prefix=f"{dotted}.", open_tables=open_tables)
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigTypeError(source, dotted, f"must be a table, got {value!r}")
        return dict(value)
    ok = {
        bool: isinstance(value, bool),
        int: isinstance(value, int) and not isinstance(value, bool),
        float: isinstance(value, (int, float)) and not isinstance(value, bool),
        str: isinstance(value, str),
    }[hint]
    if not ok:
        raise ConfigTypeError(source, dotted, f"must be {type_name(hint)}, got {value!r}")
    return float(value) if hint is float else value


def type_name(hint: Any) -> str:
    """``"an integer"``, ``"a table"``, ... for messages."""
    if dataclasses.is_dataclass(hint):
        return "a table"
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    return names.get(hint, str(hint))


def to_dict(obj: Any, open_tables: Mapping[type, str] | None = None) -> dict[str, Any]:
    """A dataclass as a TOML-shaped dict (open tables' ``dict`` inlined, ``None`` dropped)."""
    open_tables = open_tables or {}
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if f.name == "source" or value is None:
            continue
        if dataclasses.is_dataclass(value):
            value = to_dict(value, open_tables)
        if open_tables.get(type(obj)) == f.name:
            out.update(value)
        else:
            out[f.name] = value
    return out


def dumps(table: Mapping[str, Any]) -> str:
    """Serialise a TOML-shaped dict to TOML text that ``tomllib`` reads back equal."""
    lines: list[str] = []
    _write_table(table, [], lines)
    return "\n".join(lines).lstrip("\n") + "\n"


def _write_table(table: Mapping[str, Any], path: list[str], lines: list[str]) -> None:
    scalars = {k: v for k, v in table.items() if not isinstance(v, Mapping)}
    tables = {k: v for k, v in table.items() if isinstance(v, Mapping)}
    if path and (scalars or not tables):
        lines += ["", f"[{'.'.join(_key(p) for p in path)}]"]
    lines += [f"{_key(k)} = {_value(v)}" for k, v in scalars.items()]
    for k, v in tables.items():
        _write_table(v, [*path, k], lines)


def _key(key: str) -> str:
    bare = key.replace("_", "").replace("-", "").isalnum() and key.isascii()
    return key if bare else json.dumps(key)


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, str)):
        return json.dumps(v)
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else ("nan" if v != v else ("inf" if v > 0 else "-inf"))
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, Mapping):
        return "{" + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(f"to_toml: cannot write {v!r} of type {type(v).__name__}")
