"""Put a benchmark's block into the benchmarks file, between two markers of its own."""

from __future__ import annotations

from pathlib import Path


def write_report(path: Path, marker: str, lines: list[str]) -> None:
    """Replace the block between two `marker` lines, or append it when there is none."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    block = f"{marker}\n" + "\n".join(lines) + f"\n{marker}\n"
    if text.count(marker) >= 2:
        head, _, rest = text.partition(marker)
        _, _, tail = rest.partition(marker)
        text = head + block + tail.lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.write_text(text, encoding="utf-8")
