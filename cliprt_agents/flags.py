"""Command-line flags generated from config dataclasses, so each hyper-parameter is declared once.

A field becomes ``--field-name`` (plus the aliases in ``metadata["flags"]``)
with the field's type, default and ``metadata["help"]``. Other metadata:
``choices``; ``cli: False`` (not a flag); ``cli_default`` (the command's
default where it differs from the library's); ``zero_is_none`` (``0`` means
off, stored as None). A bool field defaulting to True becomes ``--no-NAME``,
one defaulting to False ``--NAME`` (help ``"no " + help`` for the former). ``None`` defaults show no "(default: ...)".

Only argparse, dataclasses and typing are imported, so ``cliprt --help`` stays fast.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from typing import Any

#: The metadata keys a field may carry (anything else is a typo).
METADATA_KEYS = frozenset({"help", "flags", "choices", "cli", "cli_default", "zero_is_none"})


def cli_fields(cls: type) -> list[dataclasses.Field]:
    """The fields of ``cls`` that are flags (those without ``cli: False``)."""
    out = []
    for f in dataclasses.fields(cls):
        unknown = set(f.metadata) - METADATA_KEYS
        if unknown:
            raise TypeError(f"{cls.__name__}.{f.name}: unknown flag metadata {sorted(unknown)}")
        if f.metadata.get("cli", True):
            out.append(f)
    return out


#: Attribute of a parsed namespace that holds the dests of the flags given on the command line.
GIVEN_ATTR = "_flags_given"


def _mark_given(namespace: argparse.Namespace, dest: str) -> None:
    given = getattr(namespace, GIVEN_ATTR, None)
    if given is None:
        given = set()
        setattr(namespace, GIVEN_ATTR, given)
    given.add(dest)


class _RecordsGiven:
    """Mixed into an argparse action: after storing, record that the flag was given (see :func:`given_flags`)."""

    def __call__(self, parser: Any, namespace: argparse.Namespace, values: Any, option_string: Any = None) -> None:
        super().__call__(parser, namespace, values, option_string)  # type: ignore[misc]
        _mark_given(namespace, self.dest)  # type: ignore[attr-defined]


class StoreGiven(_RecordsGiven, argparse._StoreAction):
    """argparse's ``store`` that also records that the flag was given."""


class _StoreTrueGiven(_RecordsGiven, argparse._StoreTrueAction):
    pass


class _StoreFalseGiven(_RecordsGiven, argparse._StoreFalseAction):
    pass


def given_flags(args: argparse.Namespace) -> frozenset[str]:
    """The dests of the config flags given on the command line (not left at their defaults)."""
    return frozenset(getattr(args, GIVEN_ATTR, ()))


def _default(f: dataclasses.Field) -> Any:
    if "cli_default" in f.metadata:
        return f.metadata["cli_default"]
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def _base_type(hint: Any) -> tuple[Any, bool]:
    """``(type, optional)``: ``int | None`` -> ``(int, True)``."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return hint, False


def flag_name(name: str) -> str:
    """``warmup_steps`` -> ``--warmup-steps``."""
    return "--" + name.replace("_", "-")


def add_config_flags(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    cls: type,
    *,
    dest_prefix: str = "",
    required: tuple[str, ...] = (),
    defaults: Any = None,
) -> None:
    """One flag per field of the dataclass ``cls``; ``dest`` is ``dest_prefix + field name``.

    ``required`` names fields without a default that must be given (for example PPO's env ids).
    ``defaults``, an instance of ``cls``, gives the flags' defaults instead of the fields' own
    (a command with a recipe of its own, e.g. ``cliprt pretrain``).
    """
    hints = typing.get_type_hints(cls)
    for f in cli_fields(cls):
        if "help" not in f.metadata:
            raise TypeError(f"{cls.__name__}.{f.name} has no help (field(metadata={{'help': ...}}))")
        kind, _ = _base_type(hints[f.name])
        default = _default(f) if defaults is None else getattr(defaults, f.name)
        options: dict[str, Any] = {"dest": dest_prefix + f.name, "help": f.metadata["help"]}
        names = [flag_name(f.name)]
        if kind is bool:
            options["action"] = _StoreFalseGiven if default else _StoreTrueGiven
            options["default"] = default
            if default:  # the flag turns the field off
                names = [flag_name(f"no_{f.name}")]
                options["help"] = f"no {f.metadata['help']}"
            parser.add_argument(*names, *f.metadata.get("flags", ()), **options)
            continue
        if typing.get_origin(kind) is tuple:
            args = typing.get_args(kind)
            kind = args[0]
            options["nargs"] = "+" if len(args) == 2 and args[1] is Ellipsis else len(args)
        options["type"] = kind
        if "choices" in f.metadata:
            options["choices"] = tuple(f.metadata["choices"])
        if f.name in required:
            options["required"] = True
        else:
            options["default"] = default
        if "choices" not in options:  # help shows the field's name, not the prefixed dest
            options["metavar"] = {int: "N", float: "X"}.get(kind, f.name.upper())
        parser.add_argument(*names, *f.metadata.get("flags", ()), action=StoreGiven, **options)


def config_from_flags(cls: type, args: argparse.Namespace, *, dest_prefix: str = "", **extra: Any) -> Any:
    """The ``cls`` instance the parsed flags describe (fields that are not flags come from ``extra`` or defaults)."""
    values: dict[str, Any] = {}
    for f in cli_fields(cls):
        value = getattr(args, dest_prefix + f.name)
        if isinstance(value, list):
            value = tuple(value)
        if f.metadata.get("zero_is_none") and not value:
            value = None
        values[f.name] = value
    values.update(extra)
    return cls(**values)
