"""docs/design.md's map names every module of both packages, so a newcomer can trust it."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = (ROOT / "bridge" / "econnect_bridge", ROOT / "core" / "econnect_identities")


def test_every_module_is_on_the_map() -> None:
    design = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    missing = [
        str(path.relative_to(ROOT))
        for package in PACKAGES
        for path in sorted(package.glob("*.py"))
        if f"  {path.name} " not in design
    ]
    assert missing == [], f"add these to the layout in docs/design.md: {missing}"


def test_the_map_names_no_module_that_is_gone() -> None:
    design = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    layout = design.split("## Layout", 1)[1].split("```", 2)[1]
    named = {
        word.rsplit("/", 1)[-1]
        for line in layout.splitlines()
        for word in line.split()
        if word.endswith(".py")
    }
    existing = {path.name for package in PACKAGES for path in package.rglob("*.py")}
    assert named - existing == set()
