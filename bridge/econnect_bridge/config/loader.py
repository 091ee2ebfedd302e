"""Read the configuration file: YAML with ``!secret`` and ``!env_var``, then the schema.

The tags follow Home Assistant, so users write what they already know:

* ``!secret name`` reads `name` from ``secrets.yaml`` beside the config file, so the config
  can be shared or committed without its passwords;
* ``!env_var NAME [default]`` reads the environment (containers, systemd credentials).

Nothing here stops at the first problem: a missing secret, a duplicate key and a bad value
are all collected and raised together as one `ConfigError`. A value that could not be read
becomes `UNRESOLVED`, and the schema errors it then causes are dropped: its problem is
already reported. Errors about a value that came from ``!secret`` never show the value.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import voluptuous as vol
import yaml

from econnect_bridge.config.errors import ConfigError, ConfigProblem, format_path
from econnect_bridge.config.model import BridgeConfig, build_config
from econnect_bridge.config.schema import validate
from econnect_bridge.config.validators import InvalidValue, describe, relative_to

SECRETS_FILE: Final = "secrets.yaml"
_MERGE_TAG: Final = "tag:yaml.org,2002:merge"
#: What PyYAML's constructors raise, instead of YAMLError, on values like ``!!int x``.
_PYYAML_SLIPS: Final = (ValueError, TypeError, LookupError, AttributeError, ArithmeticError)
#: Keys whose values are never shown in errors, even when written inline.
_SECRET_KEYS: Final = frozenset({("password",), ("token",)})

YamlPath = tuple[Hashable, ...]


class _Unresolved:
    """The value of a tag that could not be resolved (its problem is already reported)."""

    def __repr__(self) -> str:
        return "<unresolved>"


UNRESOLVED: Final = _Unresolved()


@dataclass
class _Document:
    """One parsed YAML file and what went wrong while reading it."""

    file: str
    data: Any = None
    problems: list[ConfigProblem] = field(default_factory=list)
    marks: dict[YamlPath, tuple[int, int]] = field(default_factory=dict)
    secrets: list[tuple[Any, str]] = field(default_factory=list)
    #: True for secrets.yaml: its problems never quote a value.
    hide_values: bool = False

    def add(
        self, path: YamlPath, expected: str, found: str, hint: str | None = None
    ) -> _Unresolved:
        """Record a problem at `path` (located by its YAML mark) and return UNRESOLVED."""
        line, column = self.position(path)
        self.problems.append(
            ConfigProblem(self.file, format_path(path), expected, found, hint, line, column)
        )
        return UNRESOLVED

    def position(self, path: YamlPath) -> tuple[int | None, int | None]:
        """Return line and column of `path`, or of its nearest ancestor in the file."""
        for end in range(len(path), -1, -1):
            if path[:end] in self.marks:
                return self.marks[path[:end]]
        return None, None

    def explain(self, error: vol.Invalid) -> ConfigProblem | None:
        """Turn a schema error into a problem; None when an unresolved value caused it."""
        path = tuple(error.path)
        if isinstance(error, InvalidValue):
            expected, found, hint = error.expected, error.found, error.hint
            about_key = error.about_key
        else:
            expected, found, hint = error.error_message, "an invalid value", None
            about_key = False
        values = list(_values_along(self.data, path))
        if not about_key and any(value is UNRESOLVED for value in values):
            return None
        secret = next((name for value in values for name in self._secret_names(value)), None)
        if secret is not None and not about_key:
            found, hint = f"the value of !secret {secret} (not shown)", None
        line, column = self.position(path)
        return ConfigProblem(self.file, format_path(path), expected, found, hint, line, column)

    def _secret_names(self, value: Any) -> Iterator[str]:
        """Yield the names of secrets whose value `value` is (or equals, for text)."""
        for secret, name in self.secrets:
            if value is secret or (isinstance(value, str) and value == secret):
                yield name


def _values_along(data: Any, path: YamlPath) -> Iterator[Any]:
    """Yield the raw value at each prefix of `path`, from the whole document down."""
    yield data
    for part in path:
        if not _has_child(data, part):
            return
        data = data[part]
        yield data


def _has_child(data: Any, part: Hashable) -> bool:
    """Tell whether `data[part]` exists (a mapping key, or an index into a list)."""
    if isinstance(data, list):
        return isinstance(part, int) and 0 <= part < len(data)
    return isinstance(data, dict) and part in data


class _Secrets:
    """``secrets.yaml`` beside the config file, read once, on the first ``!secret``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.missing = False
        self.problems: list[ConfigProblem] = []
        self._values: dict[str, Any] | None = None
        self._read = False

    def values(self) -> dict[str, Any] | None:
        """Return the secrets; None when the file is missing or broken (see `missing`)."""
        if not self._read:
            self._read = True
            self._values = self._load()
        return self._values

    def _load(self) -> dict[str, Any] | None:
        """Read and check the file; its own problems are reported once, here."""
        if not self.path.exists():
            self.missing = True
            return None
        doc = read_yaml(self.path, secrets=None, environ={}, hide_values=True)
        self.problems.extend(doc.problems)
        data = {} if doc.data is None else doc.data
        if doc.problems:
            return None
        if not isinstance(data, dict) or not all(isinstance(key, str) for key in data):
            hint = "write one 'name: value' line per secret"
            doc.add((), "a mapping of secret names to values", _describe_kind(data), hint)
            self.problems.extend(doc.problems)
            return None
        return data


def _describe_kind(data: Any) -> str:
    """Say what a document is, without its content (it may hold secrets)."""
    if isinstance(data, dict):
        return "a mapping with keys that are not names"
    return "a list" if isinstance(data, list) else "a single value"


class _Loader(yaml.SafeLoader):
    """SafeLoader that reports duplicate keys and resolves !secret and !env_var."""

    def __init__(
        self, text: str, doc: _Document, secrets: _Secrets | None, environ: Mapping[str, str]
    ) -> None:
        super().__init__(text)
        self.doc = doc
        self.secrets = secrets
        self.environ = environ
        self.paths: dict[int, YamlPath] = {}

    def path_of(self, node: yaml.Node) -> YamlPath:
        """Return the key path of `node` in the document."""
        return self.paths.get(id(node), ())

    def argument(self, node: yaml.Node, tag: str) -> str | None:
        """Return the text after a tag; record a problem and return None when there is none."""
        if isinstance(node, yaml.ScalarNode) and str(node.value).strip():
            return str(node.value).strip()
        found = "nothing" if isinstance(node, yaml.ScalarNode) else "a mapping or a list"
        self.doc.add(self.path_of(node), f"a name after {tag}", found, f"write '{tag} NAME'")
        return None

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        """Build one value; a scalar YAML cannot build (``2024-02-30``) becomes a problem.

        PyYAML raises plain ValueError and friends from its scalar constructors; reporting
        them here keeps the line number and lets the rest of the file be checked.
        """
        saved_deep = self.deep_construct
        try:
            return super().construct_object(node, deep=deep)
        except _PYYAML_SLIPS as exc:
            self.recursive_objects.pop(node, None)
            self.deep_construct = saved_deep
            self.constructed_objects[node] = UNRESOLVED
            path = self.path_of(node)
            shown = (
                isinstance(node, yaml.ScalarNode)
                and not self.doc.hide_values
                and path[-1:] not in _SECRET_KEYS
            )
            value = describe(node.value) if shown else "this value"
            found = f"{value}, which YAML cannot read as {node.tag.rsplit(':', 1)[-1]} ({exc})"
            hint = "put the value in quotes to keep it as text"
            return self.doc.add(path, "a value YAML can read", found, hint)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        """Build a mapping, reporting keys given twice (YAML would keep the last silently)."""
        if not isinstance(node, yaml.MappingNode):  # e.g. "!!set 0": PyYAML reports it
            return super().construct_mapping(node, deep=deep)
        first: dict[Any, yaml.Mark] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE_TAG:
                continue
            key = self.construct_object(key_node)
            if not isinstance(key, Hashable):
                continue
            if key in first:
                self._duplicate(node, key, first[key])
            else:
                first[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)

    def _duplicate(self, node: yaml.MappingNode, key: Any, first: yaml.Mark) -> None:
        """Record a duplicate key, pointing at its second use."""
        path = (*self.path_of(node), key)
        found = f"{describe(key)} again (first at line {first.line + 1})"
        self.doc.add(path, "each key once in a mapping", found, "remove or merge one of them")


def _construct_secret(loader: _Loader, node: yaml.Node) -> Any:
    """Resolve ``!secret name`` from secrets.yaml."""
    name = loader.argument(node, "!secret")
    path = loader.path_of(node)
    if name is None:
        return UNRESOLVED
    secrets = loader.secrets
    if secrets is None:
        return loader.doc.add(path, "a plain value", f"!secret {name}", "write the value itself")
    values = secrets.values()
    if values is None:
        if not secrets.missing:
            return UNRESOLVED  # the file is broken: reported once, with its own line
        expected = f"the file {secrets.path}, holding the secret {name!r}"
        hint = f"create {secrets.path} with the line '{name}: <value>'"
        return loader.doc.add(path, expected, "no such file", hint)
    if name not in values:
        # No "did you mean": naming another secret would show what else the file holds and
        # invite using the wrong credential.
        hint = (
            f"add the line '{name}: <value>' to {secrets.path}, the secrets file read "
            "for this configuration (the one beside it)"
        )
        return loader.doc.add(path, f"a secret {name!r} in {secrets.path}", "no such secret", hint)
    loader.doc.secrets.append((values[name], name))
    return values[name]


def _construct_env_var(loader: _Loader, node: yaml.Node) -> Any:
    """Resolve ``!env_var NAME [default]`` from the environment."""
    argument = loader.argument(node, "!env_var")
    if argument is None:
        return UNRESOLVED
    name, *default = argument.split(None, 1)
    value = loader.environ.get(name)
    if value is not None:
        return value
    if default:
        return default[0]
    hint = f"set {name}, or give a default: !env_var {name} <default>"
    return loader.doc.add(
        loader.path_of(node), f"the environment variable {name} to be set", "not set", hint
    )


def _construct_unknown(loader: _Loader, node: yaml.Node) -> Any:
    """Report a tag the bridge does not know instead of failing the whole file."""
    tag = str(node.tag)
    hint = "supported tags: !secret NAME, !env_var NAME [default]"
    if tag == "!include":
        hint = "!include is not supported: write the values in this file"
    found = f"the tag {describe(tag)}"
    return loader.doc.add(loader.path_of(node), "a value, !secret or !env_var", found, hint)


_Loader.add_constructor("!secret", _construct_secret)
_Loader.add_constructor("!env_var", _construct_env_var)
_Loader.add_constructor(None, _construct_unknown)


def _index(root: yaml.Node) -> tuple[dict[int, YamlPath], dict[YamlPath, tuple[int, int]]]:
    """Map every node to its key path, and key paths to their (line, column).

    Iterative and visiting each node once, so deep or alias-heavy documents stay cheap.
    """
    paths: dict[int, YamlPath] = {}
    marks: dict[YamlPath, tuple[int, int]] = {}
    stack: list[tuple[yaml.Node, YamlPath, yaml.Mark]] = [(root, (), root.start_mark)]
    while stack:
        node, path, mark = stack.pop()
        marks.setdefault(path, (mark.line + 1, mark.column + 1))
        if id(node) in paths:
            continue
        paths[id(node)] = path
        if isinstance(node, yaml.MappingNode):
            # A key given twice keeps its last value, as the constructed mapping does.
            last = {_key_of(key): (key, value) for key, value in node.value}
            stack.extend(
                (value, (*path, name), key.start_mark) for name, (key, value) in last.items()
            )
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(
                (item, (*path, index), item.start_mark) for index, item in enumerate(node.value)
            )
    return paths, marks


def _key_of(node: yaml.Node) -> Hashable:
    """Return a key as it appears in key paths (its text; '?' for complex keys)."""
    return str(node.value) if isinstance(node, yaml.ScalarNode) else "?"


def _read_text(path: Path, doc: _Document) -> str | None:
    """Return the file's text, or record why it cannot be read."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        doc.add((), "a configuration file", "no such file", f"check the path ({path.absolute()})")
        return None
    except OSError as exc:
        doc.add((), "a readable configuration file", exc.strerror or type(exc).__name__)
        return None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        found = f"the byte 0x{raw[exc.start]:02x}, which is not UTF-8"
        doc.problems.append(
            ConfigProblem(doc.file, "", "UTF-8 text", found, "save the file as UTF-8", line)
        )
        return None


_SYNTAX_HINTS: Final = {
    "found character '\\t' that cannot start any token": "indent with spaces, not tabs",
    "mapping values are not allowed here": "check the indentation, and quote values with ': '",
    "could not find expected ':'": "write 'key: value' (check the line above too)",
}


def _syntax_problem(doc: _Document, text: str, exc: yaml.YAMLError) -> None:
    """Record a YAML syntax error with its line and column."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        found = " ".join(part for part in (exc.context, exc.problem) if part) or "unreadable YAML"
        hint = _SYNTAX_HINTS.get(exc.problem or "")
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
    else:
        position = getattr(exc, "position", None)
        found, hint, column = str(exc).splitlines()[0], None, None
        line = text.count("\n", 0, position) + 1 if isinstance(position, int) else None
    doc.problems.append(ConfigProblem(doc.file, "", "valid YAML", found, hint, line, column))


def read_yaml(
    path: Path, *, secrets: _Secrets | None, environ: Mapping[str, str], hide_values: bool = False
) -> _Document:
    """Parse one YAML file into a `_Document` (data, problems, key positions)."""
    doc = _Document(str(path), hide_values=hide_values)
    text = _read_text(path, doc)
    if text is None:
        return doc
    loader: _Loader | None = None
    try:
        loader = _Loader(text, doc, secrets, environ)  # checks the characters: may raise
        node = loader.get_single_node()
        if node is not None:
            loader.paths, doc.marks = _index(node)
            doc.data = loader.construct_document(node)
    except yaml.YAMLError as exc:
        doc.data = None
        _syntax_problem(doc, text, exc)
    except RecursionError:
        doc.data = None
        doc.add((), "a configuration nested a few levels deep", "nesting too deep to read")
    except _PYYAML_SLIPS as exc:  # a PyYAML constructor failing outside construct_object
        doc.data = None
        detail = type(exc).__name__ if hide_values else f"{type(exc).__name__}: {exc}"
        doc.add((), "valid YAML", f"YAML that cannot be read ({detail})")
    finally:
        if loader is not None:
            loader.dispose()
    return doc


def _finish(doc: _Document, base_dir: Path, source: Path | None) -> BridgeConfig:
    """Validate a parsed document and build the model, or raise every problem at once."""
    problems = list(doc.problems)
    validated: dict[str, Any] | None = None
    if doc.data is None and not problems:
        hint = "start from examples/config.yaml"
        doc.add((), "a mapping with at least an 'api' section", "an empty file", hint)
        problems = doc.problems
    elif doc.data is not None:
        try:
            with relative_to(base_dir):
                validated, errors = validate(doc.data)
        except RecursionError:
            validated, errors = None, [InvalidValue("a shallower document", "nesting too deep")]
        problems += [problem for problem in map(doc.explain, errors) if problem]
    if problems or validated is None:
        raise ConfigError(problems)
    return build_config(validated, source)


def load_config(path: str | Path, *, environ: Mapping[str, str] | None = None) -> BridgeConfig:
    """Read, check and return the configuration in `path`.

    Args:
        path: The YAML file. ``secrets.yaml`` is looked for in the same folder, and relative
            file paths inside it start at that folder.
        environ: Where ``!env_var`` looks (default: ``os.environ``); tests pass their own.

    Raises:
        ConfigError: With every problem found, not only the first.
    """
    file = Path(path)
    secrets = _Secrets(file.parent / SECRETS_FILE)
    doc = read_yaml(file, secrets=secrets, environ=os.environ if environ is None else environ)
    doc.problems.extend(secrets.problems)
    return _finish(doc, file.absolute().parent, file)


def config_from_dict(
    data: Mapping[str, Any], *, base_dir: str | Path | None = None, source: str = "<dict>"
) -> BridgeConfig:
    """Check and return a configuration given as Python data (tests, the HA integration).

    Defaults come from the schema exactly as for a file, so callers never restate them.

    Raises:
        ConfigError: With every problem found; `source` stands for the file name.
    """
    doc = _Document(source, data=dict(data))
    return _finish(doc, Path(base_dir) if base_dir else Path.cwd(), None)
