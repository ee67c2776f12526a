"""The machinery of a typed config: sections as dataclasses, keys with a one-line description,
YAML values coerced to the annotated types, "did you mean" for unknown keys, the key listing,
and the :class:`Schema` through which each owner (the general config, a task) adds its own
section, its own keys to a shared section and its own validation.

It knows no section of stablegan's ``Config``: :mod:`stablegan.config` declares the general
ones, :mod:`stablegan.taskconfig` those of the tasks, and the schema composes them. A key is a
dataclass field made with :func:`key`::

    @dataclass
    class ScheduleConfig:
        \"\"\"How many critic and generator steps make one iteration.\"\"\"

        n_critic: int = key(1, "discriminator steps per iteration")
        d_norm: str = key("none", "critic normalisation", choices=("none", "layer", "batch"))
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from stablegan.core.errors import ConfigError

GENERAL = "general"  # the owner of the keys every run has (stablegan.config)

__all__ = ["GENERAL", "KeyInfo", "Schema", "SectionInfo", "all_keys", "build_section", "check",
           "check_choice", "choice", "choices_of", "describe", "describe_sections", "key",
           "section", "section_doc", "unknown_key_error"]


def key(default: Any = dataclasses.MISSING, doc: str = "", *,
        factory: Callable[[], Any] | None = None,
        choices: tuple[str, ...] | None = None) -> Any:
    """A config key: its default (or ``factory`` for a list), its one-line description and,
    for a key that takes one of a few names, the names it accepts (shown by ``stablegan config
    KEY`` and checked by :func:`check_choice`)."""
    meta = {"doc": doc, "choices": choices}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


def section(cls: type) -> Any:
    """A field holding a whole section (its description is the class docstring)."""
    return field(default_factory=cls, metadata={"doc": section_doc(cls), "choices": None})


def section_doc(cls: type) -> str:
    """The first line of a section class's own docstring ("" when it has none)."""
    doc = cls.__dict__.get("__doc__") or ""
    if doc.startswith(f"{cls.__name__}("):  # the signature dataclasses writes when there is none
        return ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def _is_section(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


# ------------------------------------------------------------------------------ coercion
def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check ``value`` against annotation ``tp`` (with ints accepted for floats)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key)
            except ConfigError as err:
                errors.append(err)
        raise errors[0]
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise ConfigError(
                f"config key '{key}' must be a list of {len(args)} numbers, got {value!r}",
                hint=f"for example --set {key}=[0.5,0.999]",
            )
        return tuple(_coerce(v, a, key) for v, a in zip(value, args))
    if origin is list:
        (arg,) = typing.get_args(tp)
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"config key '{key}' must be a list, got {value!r}")
        return [_coerce(v, arg, key) for v in value]
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(
            f"config key '{key}' must be true or false, got {value!r}",
            hint=f"use --set {key}=true or --set {key}=false",
        )
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ConfigError(f"config key '{key}' must be an integer, got {value!r}")
    if tp is float:
        number = None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                pass
        if number is not None and math.isfinite(number):  # no nan/inf anywhere in a config
            return number
        raise ConfigError(f"config key '{key}' must be a finite number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"config key '{key}' must be a string, got {value!r}")
    return value


def build_section(cls: type, data: Any, prefix: str = "", root: type | None = None) -> Any:
    """An instance of section ``cls`` from a nested dict: every key checked against the
    annotations (ConfigError naming the key), an unknown one answered with "did you mean"
    among the keys of ``root`` (default ``cls``)."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        where = f"'{prefix}'" if prefix else "the top level"
        raise ConfigError(f"config section {where} must be a mapping, got {data!r}")
    root = root or cls
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    for name, value in data.items():
        full = f"{prefix}.{name}" if prefix else str(name)
        if name not in fields:
            raise unknown_key_error(full, cls, prefix, value, root)
        tp = hints[name]
        kwargs[name] = (build_section(tp, value, full, root) if _is_section(tp)
                        else _coerce(value, tp, full))
    return cls(**kwargs)


# --------------------------------------------------------------------------- key listing
@dataclass(frozen=True)
class KeyInfo:
    """One key of the schema, as ``stablegan config`` shows it."""

    path: str  # dotted, e.g. "optim.g_lr"
    type: str  # the annotation as written, e.g. "int | None"
    default: Any
    doc: str
    choices: tuple[str, ...] | None
    owner: str  # GENERAL or the task that registered it

    @property
    def section(self) -> str:
        """The top-level section ("" for a top-level key such as ``steps``)."""
        return self.path.split(".")[0] if "." in self.path else ""


def _type_text(tp: Any) -> str:
    return tp if isinstance(tp, str) else getattr(tp, "__name__", str(tp)).replace("typing.", "")


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default


def describe(cls: type, prefix: str = "", owners: dict[type, str] | None = None,
             owner: str = GENERAL) -> list[KeyInfo]:
    """Every leaf key of section ``cls`` (recursively), in field order, with its owner: the
    owner of the class that declares the field (``owners``), else that of its section."""
    owners = owners or {}
    hints = typing.get_type_hints(cls)
    out: list[KeyInfo] = []
    for f in dataclasses.fields(cls):
        full = f"{prefix}.{f.name}" if prefix else f.name
        declared_by = next(c for c in cls.__mro__ if f.name in c.__dict__.get("__annotations__",
                                                                                  {}))
        who = owners.get(declared_by, owner)
        tp = hints[f.name]
        if _is_section(tp):
            out.extend(describe(tp, full, owners, owners.get(tp, who)))
        else:
            out.append(KeyInfo(full, _type_text(f.type), _default(f), f.metadata.get("doc", ""),
                               f.metadata.get("choices"), who))
    return out


@dataclass(frozen=True)
class SectionInfo:
    """One section (or sub-section) of the schema."""

    path: str  # dotted, e.g. "lipschitz.gradient_penalty"
    doc: str  # the first line of its class docstring
    owner: str


def describe_sections(cls: type, prefix: str = "", owners: dict[type, str] | None = None,
                      owner: str = GENERAL) -> list[SectionInfo]:
    """Every section below ``cls`` (recursively, in field order) with its doc and owner."""
    owners = owners or {}
    hints = typing.get_type_hints(cls)
    out: list[SectionInfo] = []
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if _is_section(tp):
            full = f"{prefix}.{f.name}" if prefix else f.name
            who = owners.get(tp, owner)
            out.append(SectionInfo(full, section_doc(tp), who))
            out.extend(describe_sections(tp, full, owners, who))
    return out


def all_keys(cls: type, prefix: str = "") -> list[str]:
    """Every dotted leaf key of ``cls`` (for suggestions and docs)."""
    return [k.path for k in describe(cls, prefix)]


def unknown_key_error(full: str, cls: type, prefix: str, value: Any = None,
                      root: type | None = None) -> ConfigError:
    """ConfigError for key ``full`` (``prefix`` + the name the user wrote) unknown to section
    ``cls``, with the closest key of ``root`` as a "did you mean"."""
    everything = all_keys(root or cls)
    siblings = [f"{prefix}.{f.name}" if prefix else f.name for f in dataclasses.fields(cls)]
    leaf_path = full
    while isinstance(value, dict) and value:  # a misspelt section: name the key the user wrote
        first = next(iter(value))
        leaf_path, value = f"{leaf_path}.{first}", value[first]
    if leaf_path != full:
        close = difflib.get_close_matches(leaf_path, everything, n=1, cutoff=0.6)
        if close:
            return ConfigError(f"unknown config key '{leaf_path}'",
                               hint=f"did you mean '{close[0]}'?")
    close = difflib.get_close_matches(full, everything + siblings, n=1, cutoff=0.6)
    if not close:
        leaf = full.rsplit(".", 1)[-1]
        close = [k for k in everything if k.rsplit(".", 1)[-1] == leaf][:1]
    hint = f"did you mean '{close[0]}'?" if close else f"valid keys here: {', '.join(siblings)}"
    return ConfigError(f"unknown config key '{full}'", hint=hint)


# ---------------------------------------------------------------------------- validation
def check(ok: bool, key: str, message: str, hint: str | None = None) -> None:
    """ConfigError "config key 'KEY' MESSAGE" unless ``ok``."""
    if not ok:
        raise ConfigError(f"config key '{key}' {message}", hint=hint)


def choice(value: str, key: str, choices: tuple[str, ...]) -> None:
    """ConfigError (with the closest name) unless ``value`` is one of ``choices``."""
    if value not in choices:
        close = difflib.get_close_matches(value, choices, n=1)
        hint = f"did you mean '{close[0]}'?" if close else None
        raise ConfigError(
            f"config key '{key}' must be one of {', '.join(choices)}; got '{value}'", hint=hint
        )


def choices_of(cls: type, name: str) -> tuple[str, ...]:
    """The names key ``name`` of section ``cls`` accepts (declared with ``key(choices=...)``)."""
    found = {f.name: f.metadata.get("choices") for f in dataclasses.fields(cls)}.get(name)
    if not found:
        raise KeyError(f"{cls.__name__}.{name} declares no choices")
    return found


def check_choice(obj: Any, key: str) -> None:
    """:func:`choice` for the value of dotted ``key`` on its section ``obj``, against the choices
    its field declares."""
    name = key.rsplit(".", 1)[-1]
    choice(getattr(obj, name), key, choices_of(type(obj), name))


# -------------------------------------------------------------------------------- schema
Validator = Callable[[Any], None]


class Schema:
    """The sections of one config, each owner adding its part before the config is composed.

    ``add_keys(section, cls, owner=...)`` adds the fields of dataclass ``cls`` to a section
    declared elsewhere (the text task's ``data.max_len``); ``add_section(name, cls, owner=...)``
    adds a whole section (the style task's ``style``); ``add_validator(fn)`` a check over the
    whole config, run after the general ones in the order they were added;
    ``add_lone_phase(words, runs)`` a phase that may run with no adversarial step
    (``steps: 0``). The general config marks its sections ``@schema.general(name)`` (each then
    takes the keys added for it) and :meth:`compose_root` builds the root, after which the
    schema takes no more parts."""

    def __init__(self) -> None:
        self.parts: dict[str, list[type]] = {}
        self.sections: dict[str, type] = {}
        self.owners: dict[type, str] = {}
        self.validators: list[Validator] = []
        self.lone_phases: list[tuple[str, Callable[[Any], bool]]] = []
        self.root: type | None = None
        self._composed: set[str] = set()

    def _open(self, what: str) -> None:
        if self.root is not None:
            raise ConfigError(f"cannot register {what}: the config schema is already composed",
                              hint="register it before stablegan.config is first imported: "
                                   "before importing stablegan.tasks, stablegan.data or "
                                   "stablegan.training, which import it")

    def add_keys(self, section_name: str, cls: type, *, owner: str,
                 validate: Validator | None = None) -> None:
        self._open(f"keys for section '{section_name}'")
        if not _is_section(cls):
            raise TypeError(f"{cls!r} is not a dataclass")
        self.parts.setdefault(section_name, []).append(cls)
        self.owners[cls] = owner
        if validate is not None:
            self.add_validator(validate)

    def add_section(self, name: str, cls: type, *, owner: str,
                    validate: Validator | None = None) -> None:
        self._open(f"section '{name}'")
        if name in self.sections:
            raise ConfigError(f"config section '{name}' is already registered "
                              f"(by {self.owners[self.sections[name]]})",
                              hint="pick another section name")
        if not _is_section(cls):
            raise TypeError(f"{cls!r} is not a dataclass")
        self.sections[name] = cls
        self.owners[cls] = owner
        if validate is not None:
            self.add_validator(validate)

    def add_validator(self, fn: Validator) -> None:
        self._open(f"validator {getattr(fn, '__name__', fn)}")
        self.validators.append(fn)

    def add_lone_phase(self, words: str, runs: Callable[[Any], bool]) -> None:
        """A phase before the adversarial one that may run alone (``steps: 0``) when
        ``runs(cfg)``; ``words`` says so in the error, e.g. "pretrain.steps > 0: ..."."""
        self._open(f"lone phase '{words}'")
        self.lone_phases.append((words, runs))

    def general(self, name: str) -> Callable[[type], type]:
        """Class decorator (above ``@dataclass``) for a section declared by the general config:
        the class becomes :meth:`compose`'s, open to the keys the tasks add."""
        return lambda cls: self.compose(name, cls)

    def compose(self, name: str, general: type) -> type:
        """Section ``name``: the keys of dataclass ``general`` followed by every part added
        for it (``general`` itself when none was); the class keeps ``general``'s name."""
        self._composed.add(name)
        parts = self.parts.get(name, [])
        if not parts:
            return general
        seen = {f.name: GENERAL for f in dataclasses.fields(general)}
        for part in parts:
            for f in dataclasses.fields(part):
                if f.name in seen:
                    raise ConfigError(f"config key '{name}.{f.name}' is declared twice (by "
                                      f"{seen[f.name]} and {self.owners[part]})")
                seen[f.name] = self.owners[part]
        composed = _named(dataclasses.make_dataclass(general.__name__, [],
                                                     bases=(*reversed(parts), general)), general)
        self.owners[composed] = self.owners.get(general, GENERAL)  # a task's section stays its
        return composed

    def compose_root(self, general: type) -> type:
        """The root: ``general``'s fields followed by one field per added section."""
        taken = {f.name for f in dataclasses.fields(general)}
        clash = sorted(taken & set(self.sections))
        if clash:
            raise ConfigError(f"config section '{clash[0]}' is declared twice")
        composed = {name: self.compose(name, cls) for name, cls in self.sections.items()}
        unknown = sorted(set(self.parts) - self._composed)
        if unknown:
            open_to_keys = sorted(self._composed)
            raise ConfigError(f"keys were registered for config section '{unknown[0]}', which "
                              "does not exist or takes no keys from a task",
                              hint=f"sections that do: {', '.join(open_to_keys)}")
        extra = [(name, cls, section(cls)) for name, cls in composed.items()]
        self.root = _named(dataclasses.make_dataclass(general.__name__, extra, bases=(general,)),
                           general)
        return self.root

    def validate(self, cfg: Any) -> None:
        """Every added validator over ``cfg``, in order."""
        for fn in self.validators:
            fn(cfg)


def _named(cls: type, like: type) -> type:
    """``cls`` under ``like``'s module, name and docstring (pickling, repr, help)."""
    cls.__module__, cls.__qualname__, cls.__doc__ = like.__module__, like.__qualname__, like.__doc__
    return cls
