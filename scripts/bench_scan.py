"""Benchmark on the mirror's 10-Ks, same bytes, same run, side by side:

- monitor parse: bytes → Document (text, paragraphs, sections);
- monitor scan: parse + sections + export-risk findings (what `monitor scan` does);
- edgartools: its documented Item 1A extraction alone.

Speed: best of --repeat runs per filing, in this process (each warmed up once).
Memory: peak RSS rise (resource.getrusage ru_maxrss) during one scan, each in a fresh
process, as a multiple of the file size.
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
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def ours(data: bytes) -> int:
    from monitor.parse.document import parse_document

    document = parse_document(data)
    section = document.section("1A")
    return section.chars if section else 0


def scan(data: bytes) -> int:
    from monitor.detect.export_risk import find_export_risk
    from monitor.parse.document import parse_document

    return len(find_export_risk(parse_document(data), _lexicon()).findings)


def _lexicon() -> Any:
    from monitor.detect.lexicon import load_lexicon

    global _LEXICON
    if _LEXICON is None:
        _LEXICON = load_lexicon(REPO / "config" / "lexicon.toml")
    return _LEXICON


_LEXICON: Any = None


def edgartools(data: bytes) -> int:
    from edgar.documents import HTMLParser, ParserConfig

    html = data.decode("utf-8", errors="replace")
    document = HTMLParser(ParserConfig(form="10-K")).parse(html)
    section = document.sections.get("part_i_item_1a")
    return len(section.text()) if section else 0


TOOLS: dict[str, Callable[[bytes], int]] = {
    "monitor": ours,
    "scan": scan,
    "edgartools": edgartools,
}


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
    if tool == "edgartools":
        import edgar.documents  # noqa: F401
    else:
        import monitor.parse.document  # noqa: F401

        _lexicon()
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
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--diff-only", action="store_true", help="only the diff timings")
    parser.add_argument("--memory-child", nargs=2, metavar=("TOOL", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child[0], Path(args.memory_child[1]))
        return
    if args.diff_only:
        bench_diffs(args.mirror, args.repeat)
        return
    with (args.mirror / "MANIFEST.csv").open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["form"] == "10-K"]
    # Memory first, while this process is still small: Linux carries the peak RSS of
    # the forking process over into the child, so a large parent would mask the rise.
    memory = {
        row["path"]: {
            tool: memory_rise(tool, args.mirror / row["path"]) for tool in ("scan", "edgartools")
        }
        for row in rows
    }
    say(
        f"{'filing':<20}{'MB':>5}{'parse s':>9}{'scan s':>8}{'edgartools s':>14}"
        f"{'scan speed-up':>15}{'scan mem':>10}{'edgartools mem':>16}{'1A chars':>10}"
        f"{'edgartools':>11}{'findings':>10}"
    )
    speedups, parse_speedups, ratios, theirs = [], [], [], []
    for row in rows:
        path = args.mirror / row["path"]
        data = path.read_bytes()
        parse_s, ours_chars = best_time(ours, data, args.repeat)
        scan_s, findings = best_time(scan, data, args.repeat)
        their_s, their_chars = best_time(edgartools, data, args.repeat)
        scan_mem = memory[row["path"]]["scan"] / len(data)
        their_mem = memory[row["path"]]["edgartools"] / len(data)
        speedups.append(their_s / scan_s)
        parse_speedups.append(their_s / parse_s)
        ratios.append(scan_mem)
        theirs.append(their_mem)
        say(
            f"{path.name:<20}{len(data) / 2**20:>5.1f}{parse_s:>9.3f}{scan_s:>8.3f}{their_s:>14.3f}"
            f"{their_s / scan_s:>14.1f}x{scan_mem:>9.1f}x{their_mem:>15.1f}x"
            f"{ours_chars:>10}{their_chars:>11}{findings:>10}"
        )
    median, fastest = statistics.median(speedups), min(speedups)
    say(
        f"\n{len(rows)} 10-Ks: scan (parse + sections + findings) is {median:.1f}x faster "
        f"than edgartools' Item 1A alone (median; min {fastest:.1f}x); peak memory rise of a "
        f"scan: median {statistics.median(ratios):.1f}x the file size, max {max(ratios):.1f}x "
        f"(edgartools median {statistics.median(theirs):.1f}x); parse + sections alone is "
        f"{statistics.median(parse_speedups):.1f}x faster (min {min(parse_speedups):.1f}x)"
    )
    bench_diffs(args.mirror, args.repeat)


DIFF_PAIRS = (
    (
        "1045810/000104581023000017/nvda-20230129.htm",
        "1045810/000104581024000029/nvda-20240128.htm",
    ),
    (
        "1045810/000104581024000029/nvda-20240128.htm",
        "1045810/000104581025000023/nvda-20250126.htm",
    ),
    ("320193/000032019323000106/aapl-20230930.htm", "320193/000032019324000123/aapl-20240928.htm"),
    ("320193/000032019324000123/aapl-20240928.htm", "320193/000032019325000079/aapl-20250927.htm"),
    (
        "1318605/000162828024002390/tsla-20231231.htm",
        "1318605/000162828025003063/tsla-20241231.htm",
    ),
)


def bench_diffs(mirror: Path, repeat: int) -> None:
    """Diff of two already-parsed 10-Ks (target: under 0.2 s)."""
    from monitor.detect.changes import Baseline, compare_filings
    from monitor.detect.export_risk import find_export_risk
    from monitor.parse.document import parse_document

    say(f"\n{'10-K pair':<44}{'diff s':>8}{'warnings':>10}{'unchanged':>11}")
    for old_path, new_path in DIFF_PAIRS:
        pair = []
        for path in (old_path, new_path):
            document = parse_document(
                (mirror / "www.sec.gov/Archives/edgar/data" / path).read_bytes()
            )
            pair.append((document, find_export_risk(document, _lexicon())))
        baseline = [Baseline(label=old_path, document=pair[0][0], risk=pair[0][1])]
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            comparison = compare_filings(pair[1][0], pair[1][1], baseline)
            times.append(time.perf_counter() - started)
        unchanged = len(comparison.findings) - len(comparison.warnings)
        names = f"{Path(old_path).name} -> {Path(new_path).name}"
        say(f"{names:<44}{min(times):>8.3f}{len(comparison.warnings):>10}{unchanged:>11}")


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
