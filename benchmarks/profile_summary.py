"""Summarise a py-spy "raw" (collapsed stacks) profile: where the samples went, by function.

    python benchmarks/profile_summary.py benchmarks/results/spy/03-bridge-half-load.txt

Prints the top functions by inclusive share (the function or anything it called was on the
stack) and by self share (the function itself was running). py-spy's flame graphs need a
browser; this prints what the docs quote.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def frame_name(frame: str) -> str:
    """`publish (paho/mqtt/client.py:123)` → `publish (client.py)`: lines merged, short path."""
    found = _FRAME.match(frame.strip())
    if not found:
        return frame.strip()
    return f"{found['func']} ({Path(found['file']).name})"


def summarise(lines: list[str]) -> tuple[int, Counter[str], Counter[str], Counter[str]]:
    """Return total samples and inclusive, self and per-thread counts."""
    total = 0
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    for line in lines:
        stack, _, count_text = line.rstrip().rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        thread = next((f for f in frames if f.startswith("thread")), "thread ?")
        threads[re.sub(r"\(0x[0-9a-f]+\)", "", thread).strip()] += count
        names = [frame_name(f) for f in frames if not f.startswith(("process", "thread"))]
        if not names:
            continue
        total += count
        own[names[-1]] += count
        for name in set(names):
            inclusive[name] += count
    return total, inclusive, own, threads


def main(argv: list[str] | None = None) -> int:
    """Print the summary of each file given."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    for path in args.files:
        total, inclusive, own, threads = summarise(path.read_text().splitlines())
        print(f"== {path} ({total} samples)")
        if not total:
            continue
        print("-- threads")
        for name, count in threads.most_common(8):
            print(f"{100 * count / total:6.1f}%  {name}")
        for title, counter in (("inclusive", inclusive), ("self", own)):
            print(f"-- {title}")
            for name, count in counter.most_common(args.top):
                print(f"{100 * count / total:6.1f}%  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
