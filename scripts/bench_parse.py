"""Benchmark: monitor's parse + sections against edgartools' Item 1A, same bytes, same run.

Speed: best of --repeat runs per filing, in this process (both warmed up once).
Memory: peak RSS rise (resource.getrusage ru_maxrss) while parsing one filing, each in a
fresh process, as a multiple of the file size.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def ours(data: bytes) -> int:
    from monitor.parse.document import parse_document

    document = parse_document(data)
    section = document.section("1A")
    return section.chars if section else 0


def edgartools(data: bytes) -> int:
    from edgar.documents import HTMLParser, ParserConfig

    html = data.decode("utf-8", errors="replace")
    document = HTMLParser(ParserConfig(form="10-K")).parse(html)
    section = document.sections.get("part_i_item_1a")
    return len(section.text()) if section else 0


TOOLS: dict[str, Callable[[bytes], int]] = {"monitor": ours, "edgartools": edgartools}


def best_time(tool: Callable[[bytes], int], data: bytes, repeat: int) -> tuple[float, int]:
    chars = tool(data)  # warm-up (imports, caches)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        tool(data)
        times.append(time.perf_counter() - started)
    return min(times), chars


def memory_rise(tool: str, path: Path) -> int:
    """Peak RSS rise in bytes for one parse, measured in a fresh process."""
    out = subprocess.run(
        [sys.executable, __file__, "--memory-child", tool, str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return int(out.stdout.strip())


def memory_child(tool: str, path: Path) -> None:
    data = path.read_bytes()
    if tool == "monitor":
        import monitor.parse.document  # noqa: F401
    else:
        import edgar.documents  # noqa: F401
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    TOOLS[tool](data)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sys.stdout.write(f"{(after - before) * 1024}\n")  # ru_maxrss is in KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--mirror",
        type=Path,
        default=Path(os.environ.get("MONITOR_EDGAR_MIRROR") or REPO.parent / "shared" / "edgar"),
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--memory-child", nargs=2, metavar=("TOOL", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child[0], Path(args.memory_child[1]))
        return
    with (args.mirror / "MANIFEST.csv").open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["form"] == "10-K"]
    # Memory first, while this process is still small: Linux carries the peak RSS of
    # the forking process over into the child, so a large parent would mask the rise.
    memory = {
        row["path"]: {tool: memory_rise(tool, args.mirror / row["path"]) for tool in TOOLS}
        for row in rows
    }
    say(
        f"{'filing':<22}{'MB':>6}{'monitor s':>11}{'edgartools s':>14}{'speed-up':>10}"
        f"{'mem x size':>12}{'edgartools x':>14}{'1A chars':>10}{'edgartools':>11}"
    )
    speedups, ratios, theirs = [], [], []
    for row in rows:
        path = args.mirror / row["path"]
        data = path.read_bytes()
        ours_s, ours_chars = best_time(ours, data, args.repeat)
        their_s, their_chars = best_time(edgartools, data, args.repeat)
        ours_mem = memory[row["path"]]["monitor"] / len(data)
        their_mem = memory[row["path"]]["edgartools"] / len(data)
        speedups.append(their_s / ours_s)
        ratios.append(ours_mem)
        theirs.append(their_mem)
        say(
            f"{path.name:<22}{len(data) / 2**20:>6.1f}{ours_s:>11.3f}{their_s:>14.3f}"
            f"{their_s / ours_s:>9.1f}x{ours_mem:>11.1f}x{their_mem:>13.1f}x"
            f"{ours_chars:>10}{their_chars:>11}"
        )
    say(
        f"\n{len(rows)} 10-Ks: speed-up median {statistics.median(speedups):.1f}x, "
        f"min {min(speedups):.1f}x; peak memory rise median {statistics.median(ratios):.1f}x "
        f"the file size, max {max(ratios):.1f}x "
        f"(edgartools median {statistics.median(theirs):.1f}x)"
    )


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
