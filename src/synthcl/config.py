"""Typed run configurations: dataclasses filled from defaults, then YAML, then command-line options.

Every configuration is a dataclass of plain values (str, int, float, bool, None, lists of those),
so it round-trips through YAML/JSON and hashes stably for caching and result keys.
"""

from __future__ import annotations

import argparse
import collections.abc
import dataclasses
import hashlib
import json
import math
import os
import types
import typing
from typing import Any, TypeVar

import yaml

from synthcl.errors import SynthclError

C = TypeVar("C")
PICKLE_OPT_IN = "allow_pickle"       # set only by the typed --allow-pickle flag


def to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)


def with_defaults(cls: type, values: dict[str, Any]) -> dict[str, Any]:
    """Settings saved by any version of the code, each one they lack at ``cls``'s default (a
    setting is added at the default that computes what the code did before it)."""
    return {**dataclasses.asdict(cls()), **values}


def config_hash(config: Any, length: int = 12) -> str:
    """A short stable hash of a configuration (dataclass or dict)."""
    data = to_dict(config) if dataclasses.is_dataclass(config) else config
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _base_type(tp: Any) -> tuple[Any, bool]:
    """(underlying type, is_list) for annotations like ``int | None`` or ``list[int]``."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _base_type(args[0])
    if origin in (list, tuple, collections.abc.Sequence):
        return typing.get_args(tp)[0], True
    return tp, False


def coerce(name: str, value: Any, tp: Any) -> Any:
    """``value`` as the annotation ``tp`` (int, float, bool, str, a list of them, ``| None``);
    a SynthclError naming ``name`` otherwise. Strings are parsed ("0.5", "true", "1,3")."""
    if value is None:
        return None
    base, is_list = _base_type(tp)
    if is_list:
        if isinstance(value, str):
            value = [v for v in value.strip().strip("[]()").split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            value = [value]
        return [coerce(name, v, base) for v in value]
    try:
        if base is bool:
            if isinstance(value, str):
                lowered = value.strip().lower()
                if lowered in ("1", "true", "yes", "on"):
                    return True
                if lowered in ("0", "false", "no", "off"):
                    return False
                raise ValueError(value)
            return bool(value)
        if base in (int, float, str):
            if base is not str and isinstance(value, bool):
                raise ValueError(value)
            if base is int and isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            if base is float and not math.isfinite(float(value)):
                raise ValueError(value)
            return base(value)
    except (TypeError, ValueError) as exc:
        raise SynthclError(
            f"setting '{name}': {value!r} is not a valid {getattr(base, '__name__', base)}"
        ) from exc
    return value


def from_dict(cls: type[C], data: dict[str, Any], base: C | None = None) -> C:
    """Build ``cls`` from ``data`` on top of ``base`` (or the defaults); unknown keys are errors."""
    types_ = _field_types(cls)
    unknown = sorted(set(data) - set(types_))
    if unknown:
        raise SynthclError(
            f"unknown setting(s) {', '.join(unknown)} for {cls.__name__}; "
            f"valid settings: {', '.join(sorted(types_))}"
        )
    values = to_dict(base) if base is not None else {}
    values.update({k: coerce(k, v, types_[k]) for k, v in data.items()})
    return cls(**values)


def load_yaml(path: str | os.PathLike) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except FileNotFoundError as exc:
        raise SynthclError(f"config file {path} does not exist; check the path") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise SynthclError(f"config file {path} cannot be read ({exc}); give a UTF-8 YAML "
                           f"file") from exc
    except yaml.YAMLError as exc:
        problem = " ".join(str(exc).split())
        raise SynthclError(f"config file {path} is not valid YAML ({problem}); fix it (plain "
                           f"YAML only: tags such as !!python are refused)") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SynthclError(f"config file {path} must hold a mapping of settings, "
                           f"not {type(data).__name__}")
    return data


def dump_yaml(config: Any) -> str:
    data = to_dict(config) if dataclasses.is_dataclass(config) else config
    return yaml.safe_dump(data, sort_keys=False)


def add_config_arguments(parser: argparse.ArgumentParser, cls: type, names: list[str],
                         helps: dict[str, str] | None = None) -> None:
    """Add ``--field-name`` options for the listed dataclass fields (default None = not given),
    plus ``--config FILE`` and ``--set KEY=VALUE`` for every other field."""
    types_ = _field_types(cls)
    defaults = {f.name: f.default_factory() if f.default is dataclasses.MISSING else f.default
                for f in dataclasses.fields(cls)}
    helps = helps or {}
    parser.add_argument("--config", metavar="FILE.yaml", help="settings file (options override it)")
    for name in names:
        base, _ = _base_type(types_[name])
        flag = "--" + name.replace("_", "-")
        text = helps.get(name, "")
        text = f"{text} (default: {defaults[name]})".strip()
        if base is bool:
            parser.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction,
                                default=None, help=text)
        else:
            parser.add_argument(flag, dest=name, default=None, metavar=name.upper(), help=text)
    parser.add_argument("--set", dest="set_", action="append", default=[], metavar="KEY=VALUE",
                        help="override any other setting, e.g. --set temperature=0.1")


def _set_items(items: list[str]) -> dict[str, Any]:
    data = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SynthclError(f"--set {item}: expected KEY=VALUE")
        key = key.strip().replace("-", "_")
        if key == PICKLE_OPT_IN:
            raise SynthclError(f"--set {item}: unpickling can run code, so only the "
                               f"--allow-pickle flag opts in; type --allow-pickle instead")
        data[key] = yaml.safe_load(value)
    return data


def config_from_args(cls: type[C], args: argparse.Namespace, names: list[str]) -> C:
    """defaults < --config file < explicit options < --set KEY=VALUE (overrides any other).

    ``allow_pickle`` comes only from the typed ``--allow-pickle`` flag: a config file (or a
    saved run's config.yaml) cannot opt in to unpickling."""
    data: dict[str, Any] = load_yaml(args.config) if getattr(args, "config", None) else {}
    data.pop(PICKLE_OPT_IN, None)
    for name in names:
        value = getattr(args, name, None)
        if value is not None:
            data[name] = value
    data.update(_set_items(getattr(args, "set_", [])))
    return from_dict(cls, data)
