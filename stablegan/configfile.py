"""Config files: YAML reading (with line, column and a hint for a syntax error), ``--set``
parsing, merging of layers, the readable diff of two configs and ``config.yaml`` writing.

Nothing here knows the schema: the dicts read here are checked by :mod:`stablegan.config`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from stablegan.core.errors import ConfigError
from stablegan.core.schema import GENERAL, KeyInfo, SectionInfo

if TYPE_CHECKING:
    from stablegan.config import Config

__all__ = ["annotated_yaml", "deep_merge", "diff", "parse_set", "read_yaml", "save_yaml",
           "yaml_value"]


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``update`` merged in, section by section (``update`` wins; no copy of
    the leaves)."""
    out = dict(base)
    for k, v in update.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def parse_set(items: list[str]) -> dict[str, Any]:
    """``["optim.g_lr=1e-4", "method=wgan-gp"]`` -> nested dict (values parsed as YAML)."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(
                f"--set expects key=value, got '{item}'", hint="for example --set optim.g_lr=1e-4"
            )
        key, raw = item.split("=", 1)
        key = key.strip()
        if not key:
            raise ConfigError(f"--set expects key=value, got '{item}'")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        node = out
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {key}: '{p}' is a value, not a section")
        node[parts[-1]] = value
    return out


def _yaml_hint(problem: str, context: str, opened: str) -> str:
    """How to fix the YAML syntax error described by ``problem``/``context`` (PyYAML's words);
    ``opened`` locates where the construct named by ``context`` starts (may be empty)."""
    at = f" at {opened}" if opened else ""
    if "'\\t'" in problem:
        return "YAML indents with spaces only: replace the tab with spaces"
    for kind, pair in (("flow mapping", "{}"), ("flow sequence", "[]")):
        if kind in context:
            return (f"unbalanced braces or brackets: the '{pair[0]}'{at} is not closed; end it "
                    f"with '{pair[1]}' and separate its items with commas")
    if "unacceptable character" in problem:
        return "remove the non-printable character (is this a text file?)"
    if "quoted scalar" in context:
        return f"the quote{at} is never closed: end the value with the same quote"
    if "mapping values are not allowed" in problem:
        return ("write 'key: value' with a space after the colon (check the line above too: "
                "'name:ring' must be 'name: ring'), and quote a value that contains ': '")
    if "found '}'" in problem or "found ']'" in problem:
        return "unbalanced braces or brackets: a closing '}' or ']' has no matching opening one"
    if "block end" in problem or "could not find expected ':'" in problem:
        return ("check the indentation (the keys of one section start in the same column, "
                "spaces only) and that each line is 'key: value'")
    return ("look for unbalanced braces or brackets, a tab used for indentation, a missing space "
            "after a colon or an unclosed quote")


def _yaml_error(path: Path, text: str, err: yaml.YAMLError) -> ConfigError:
    """ConfigError for a YAML syntax error: 1-based line and column, the line's text, a hint."""
    lines = text.splitlines()
    mark = getattr(err, "problem_mark", None)
    if mark is not None:
        line, column = mark.line, mark.column
    elif isinstance(err, yaml.reader.ReaderError):  # a control character: only its position
        before = text[: err.position]
        line, column = before.count("\n"), err.position - (before.rfind("\n") + 1)
    else:
        first = f"{err}".splitlines()[0]
        return ConfigError(f"config file '{path}' is not valid YAML: {first}",
                           hint=_yaml_hint("", "", ""))
    problem = str(getattr(err, "problem", None) or f"{err}".splitlines()[0])
    context = str(getattr(err, "context", None) or "")
    cmark = getattr(err, "context_mark", None)
    opened = f"line {cmark.line + 1}, column {cmark.column + 1}" if cmark is not None else ""
    detail = f"line {line + 1}, column {column + 1}: {problem}"
    if context:
        detail += f" ({context} that starts at {opened})" if opened else f" ({context})"
    shown = line
    if (shown >= len(lines) or not lines[shown].strip()) and cmark is not None:
        shown = cmark.line  # the error is at the end of the file: show where the construct began
    if shown < len(lines):
        text_of = lines[shown] if len(lines[shown]) <= 80 else lines[shown][:77] + "..."
        detail += f"; line {shown + 1} reads {text_of!r}"
    return ConfigError(f"config file '{path}' is not valid YAML: {detail}",
                       hint=_yaml_hint(problem, context, opened))


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping with ``yaml.safe_load``; clear errors for missing or malformed files
    (a syntax error names its line and column, shows the line and hints at the usual causes)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file '{path}' does not exist", hint="check the path")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"config file '{path}' is not UTF-8 text: {err}",
                          hint="save it as UTF-8 text (is it a YAML file?)") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise _yaml_error(path, text, err) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise ConfigError(f"config file '{path}' must hold a mapping of keys, not {kind}",
                          hint="write one 'key: value' per line, with a space after the colon "
                               "(e.g. 'steps: 100')")
    return data


def save_yaml(cfg: Config, path: str | Path) -> None:
    """Write ``cfg`` as YAML, in the order of its fields (a run's ``config.yaml``)."""
    Path(path).write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False), encoding="utf-8")


def diff(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    """Readable list of differences between two nested config dicts."""
    lines = []
    for k in sorted(set(old) | set(new)):
        full = f"{prefix}.{k}" if prefix else k
        a, b = old.get(k, "<absent>"), new.get(k, "<absent>")
        if isinstance(a, dict) and isinstance(b, dict):
            lines.extend(diff(a, b, full))
        elif a != b:
            lines.append(f"{full}: {a!r} -> {b!r}")
    return lines


def yaml_value(value: Any) -> str:
    """``value`` as one line of flow-style YAML (``null``, ``0.0002``, ``[0.5, 0.9]``, ``''``)."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10**9).strip()
    return text[: -len("\n...")] if text.endswith("\n...") else text


def lookup(values: dict[str, Any], path: str) -> Any:
    """The value at dotted ``path`` (``"optim.g_lr"``) of a nested config dict."""
    node: Any = values
    for part in path.split("."):
        node = node[part]
    return node


def annotated_yaml(keys: list[KeyInfo], sections: list[SectionInfo],
                   values: dict[str, Any] | None = None) -> str:
    """The keys as a YAML mapping (nested by section) with a comment on every line: a section's
    description and owner, a key's description, type and owner, and its default where
    ``values`` (a nested config dict; default: the defaults) gives another value.
    ``yaml.safe_load`` of the text gives back ``values`` restricted to ``keys``."""
    docs = {s.path: s for s in sections}
    lines: list[str] = []
    before: list[str] = []
    for info in keys:
        parts = info.path.split(".")
        for depth in range(len(parts) - 1):
            if before[: depth + 1] != parts[: depth + 1]:
                sec = docs[".".join(parts[: depth + 1])]
                owner = f" [owner: {sec.owner}]" if sec.owner != GENERAL else ""
                lines.append(_commented(f"{'  ' * depth}{parts[depth]}:", sec.doc + owner))
        before = parts
        value = info.default if values is None else lookup(values, info.path)
        notes = [info.type]
        if _listed(value) != _listed(info.default):
            notes.append(f"default {yaml_value(info.default)}")
        section_owner = docs[".".join(parts[:-1])].owner if len(parts) > 1 else GENERAL
        if info.owner != section_owner:
            notes.append(info.owner)
        line = f"{'  ' * (len(parts) - 1)}{parts[-1]}: {yaml_value(value)}"
        lines.append(_commented(line, f"{info.doc} [{'; '.join(notes)}]"))
    return "\n".join(lines) + "\n"


def _listed(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _commented(line: str, comment: str) -> str:
    return f"{line:<40} # {comment}" if comment else line
