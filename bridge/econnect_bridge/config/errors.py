"""ConfigError: every problem of a configuration file, reported at once.

A user fixing a YAML file wants the whole list in one run, each item saying where (file, line,
key path), what the bridge expected, what it found, and how to fix it when that is obvious. So
the loader and the schema collect problems instead of stopping at the first one, and this
module only holds and formats them.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass


def format_path(path: Sequence[Hashable]) -> str:
    """Write a key path as a user reads it: ``cameras[2].topic``, ``api.url``."""
    text = ""
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with the configuration.

    Attributes:
        file: The file the problem is in (the config file, or secrets.yaml).
        path: Key path like ``cameras[2].topic`` or ``api.url``; empty for the whole file.
        expected: What the bridge expected, as a phrase ("an integer from 1 to 65535").
        found: What it found instead; never a secret's value.
        hint: How to fix it, when that is obvious (``did you mean 'password'?``).
        line: 1-based line in `file`, when known.
        column: 1-based column in `file`, when known.
    """

    file: str
    path: str
    expected: str
    found: str
    hint: str | None = None
    line: int | None = None
    column: int | None = None

    @property
    def location(self) -> str:
        """Return ``file:line:column``, the form editors and terminals make clickable."""
        if self.line is None:
            return self.file
        if self.column is None:
            return f"{self.file}:{self.line}"
        return f"{self.file}:{self.line}:{self.column}"

    def __str__(self) -> str:
        head = f"{self.location}: {self.path}" if self.path else self.location
        lines = [head, f"    expected: {self.expected}", f"    found:    {self.found}"]
        if self.hint:
            lines.append(f"    fix:      {self.hint}")
        return "\n".join(lines)


def _sort_key(problem: ConfigProblem) -> tuple[str, int, int]:
    """Order problems as they appear in their file; problems without a line come last."""
    return (problem.file, problem.line or 1 << 30, problem.column or 0)


class ConfigError(Exception):
    """The configuration cannot be used; `problems` lists every reason.

    Attributes:
        problems: Every problem found, in file order.
    """

    def __init__(self, problems: Iterable[ConfigProblem]) -> None:
        self.problems: tuple[ConfigProblem, ...] = tuple(sorted(problems, key=_sort_key))
        super().__init__(self._render())

    def _render(self) -> str:
        """Build the multi-line message once: a count, then one block per problem."""
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        blocks = [f"- {problem}" for problem in self.problems]
        return "\n".join([f"Invalid configuration: {count} {noun}", *blocks])

    def __str__(self) -> str:
        return str(self.args[0])
