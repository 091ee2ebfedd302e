"""The configuration reference, generated from the schema so it cannot drift from it.

``docs/configuration.md`` is a hand-written introduction, a marker line, then the output of
`schema_reference_markdown`. A test compares the two; to refresh the file run::

    python3 -m econnect_bridge.config --write docs/configuration.md
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from econnect_bridge.config.schema import ROOT
from econnect_bridge.config.validators import ListOf, Option, Section

MARKER: Final = (
    "<!-- Generated from bridge/econnect_bridge/config/schema.py by "
    "`python3 -m econnect_bridge.config --write docs/configuration.md`; do not edit below. -->"
)


def schema_reference_markdown() -> str:
    """Return every key of the schema with its type, default and description, as Markdown."""
    blocks: list[str] = []
    for option in ROOT.options.values():
        blocks.extend(_section_blocks(option, option.key, level=2))
    return "\n\n".join(blocks) + "\n"


def _inner(option: Option) -> tuple[Section | None, str]:
    """Return the section under an option (directly or as list items) and its path suffix."""
    if isinstance(option.check, Section):
        return option.check, ""
    if isinstance(option.check, ListOf) and isinstance(option.check.item, Section):
        return option.check.item, "[]"
    return None, ""


def _section_blocks(option: Option, path: str, level: int) -> Iterator[str]:
    """Yield the heading, description and table of a section, then its nested sections."""
    section, suffix = _inner(option)
    if section is None:
        return
    intro = option.description
    if suffix:
        intro += " Each item:"
    yield f"{'#' * level} `{path}`\n\n{intro}"
    yield _table(section, f"{path}{suffix}")
    for child in section.options.values():
        yield from _section_blocks(child, f"{path}{suffix}.{child.key}", level + 1)


def _table(section: Section, path: str) -> str:
    """Render one section's keys as a Markdown table."""
    rows = ["| Key | Type | Default | Description |", "|---|---|---|---|"]
    for option in section.options.values():
        nested, suffix = _inner(option)
        description = option.description
        if nested is not None:
            description += f" See `{path}.{option.key}{suffix}`."
        cells = (f"`{option.key}`", option.check.type_name, _default(option), description)
        rows.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(rows)


def _default(option: Option) -> str:
    """Show an option's default as it would be written in YAML."""
    if option.default_doc:
        return option.default_doc
    if option.required:
        return "**required**"
    if isinstance(option.check, Section):
        return ""
    return f"`{_yaml(option.default)}`"


def _yaml(value: Any) -> str:
    """Write a default value in YAML flow style."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_yaml(item) for item in value) + "]"
    return str(value)


def render_document(current: str) -> str:
    """Return `current` (docs/configuration.md) with the part after the marker regenerated."""
    intro = current.split(MARKER, 1)[0].rstrip("\n")
    return f"{intro}\n\n{MARKER}\n\n{schema_reference_markdown()}"


def main(argv: list[str]) -> int:
    """Print the reference, or rewrite the generated part of a file (``--write FILE``)."""
    if len(argv) == 2 and argv[0] == "--write":
        target = Path(argv[1])
        current = target.read_text(encoding="utf-8") if target.exists() else ""
        target.write_text(render_document(current), encoding="utf-8")
        return 0
    sys.stdout.write(schema_reference_markdown())
    return 0
