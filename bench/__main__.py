"""``make bench``: run every benchmark area, print its tables, and write bench/results/SUMMARY.md.

    python -m bench                  # the whole suite (under 30 minutes on 2 cores once the cache is warm)
    python -m bench --quick          # CI-sized: subsets and fewer repetitions (under 3 minutes, warm cache)
    python -m bench --data PATH      # score an external labelled set (see bench/pipeline.py for formats)
    python -m bench --only retrieval,speed

Each area runs as its own process, so one area's memory and failures never leak into the next, and the
areas owned by other scripts (stance, checkworthy, batch) are run when they exist and skipped, with a
note, when they do not.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench import ROOT, machine, results_dir, table

# (area, module, results file, timeout in seconds for full / quick)
AREAS: list[tuple[str, str, str, int, int]] = [
    ("segmentation", "bench.segmentation", "segmentation.md", 300, 60),
    ("retrieval", "bench.retrieval", "retrieval.md", 1500, 300),
    ("pipeline", "bench.pipeline", "pipeline.md", 1200, 300),
    ("stance", "bench.stance", "stance.md", 1500, 400),
    ("verdicts", "bench.verdicts", "verdicts.md", 900, 300),
    ("checkworthy", "bench.checkworthy", "checkworthy.md", 900, 300),
    ("verifiable", "bench.verifiable", "verifiable.md", 600, 300),
    ("batch", "bench.batch", "batch.md", 900, 300),
    ("speed", "bench.speed", "speed.md", 1500, 300),
    ("load", "bench.load", "load.md", 600, 200),
    ("ann", "bench.ann", "ann.md", 3600, 300),
]


def run_area(module: str, args: list[str], timeout_s: int) -> tuple[str, float, str]:
    """(status, seconds, tail of the output) of ``python -m module args``."""
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", module, *args],
            cwd=ROOT,
            env=env,
            timeout=timeout_s,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        return f"timed out after {timeout_s} s", time.perf_counter() - t0, out[-3000:]
    status = "ok" if proc.returncode == 0 else f"failed (exit {proc.returncode})"
    return status, time.perf_counter() - t0, proc.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description="Run Veracity's benchmark suite.")
    parser.add_argument("--quick", action="store_true", help="CI-sized runs of every area")
    parser.add_argument(
        "--data",
        type=Path,
        action="append",
        default=[],
        help="score an external labelled set instead of the suite (repeatable)",
    )
    parser.add_argument("--only", default="", help="comma-separated areas, e.g. retrieval,speed")
    args = parser.parse_args(argv)
    out = results_dir(args.quick)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    if args.data:
        missing = [str(p) for p in args.data if not p.exists()]
        if missing:
            parser.error(f"no such file: {', '.join(missing)}")
        plan = [("pipeline", "bench.pipeline", [a for p in args.data for a in ("--data", str(p.resolve()))])]
        plan += [("retrieval", "bench.retrieval", ["--data", str(p.resolve())]) for p in args.data if _is_scifact(p)]
    else:
        wanted = {a.strip() for a in args.only.split(",") if a.strip()}
        unknown = wanted - {a[0] for a in AREAS}
        if unknown:
            parser.error(f"unknown area(s) {', '.join(sorted(unknown))}; choose from {', '.join(a[0] for a in AREAS)}")
        plan = [
            (area, module, ["--quick"] if args.quick else [])
            for area, module, *_ in AREAS
            if not wanted or area in wanted
        ]

    timeouts = {a[1]: (a[4] if args.quick else a[3]) for a in AREAS}
    report = []
    sections = []
    for area, module, area_args in plan:
        script = ROOT / (module.replace(".", "/") + ".py")
        if not script.exists():
            report.append([area, "skipped", "", f"{script.relative_to(ROOT)} does not exist yet"])
            print(f"== {area}: skipped ({script.relative_to(ROOT)} does not exist yet)", flush=True)
            continue
        print(f"== {area}: python -m {module} {' '.join(area_args)}", flush=True)
        status, seconds, output = run_area(module, area_args, timeouts[module])
        print(output if status == "ok" else output[-4000:], flush=True)
        print(f"== {area}: {status} in {seconds:.0f} s", flush=True)
        report.append([area, status, f"{seconds:.0f}", ""])
        md = _results_md(out, area, area_args)
        if status == "ok" and md and md.exists() and md.stat().st_mtime >= time.time() - seconds - 5:
            sections.append(md.read_text(encoding="utf-8").strip())
        elif status == "ok":  # a script that prints its tables but writes no markdown
            sections.append(f"## {area}\n\n```\n{output[-4000:].strip()}\n```")
        else:
            sections.append(f"## {area}: {status}\n\n```\n{output[-2000:].strip()}\n```")

    total = time.perf_counter() - started
    mode = "quick" if args.quick else ("external data" if args.data else "full")
    summary = (
        "\n\n".join(
            [
                f"# Veracity benchmark summary ({mode} run)",
                f"{machine()}; total {total / 60:.1f} min.",
                table(["area", "status", "seconds", "note"], report),
                *sections,
            ]
        )
        + "\n"
    )
    name = "SUMMARY.md" if not args.data else "SUMMARY_data.md"
    (out / name).write_text(summary, encoding="utf-8")
    statuses = {r[0]: {"status": r[1], "seconds": float(r[2]) if r[2] else None, "note": r[3]} for r in report}
    (out / name.replace(".md", ".json")).write_text(
        json.dumps({"mode": mode, "seconds": round(total, 1), "areas": statuses}, indent=2) + "\n", encoding="utf-8"
    )
    print(f"\nWrote {(out / name).relative_to(ROOT)}; total {total:.0f} s ({mode}).")
    return 0 if all(r[1] in ("ok", "skipped") for r in report) else 1


def _results_md(out: Path, area: str, area_args: list[str]) -> Path | None:
    if "--data" in area_args:
        stems = [Path(a).stem for a in area_args[1::2]]
        return out / (f"{area}_{'_'.join(stems)}.md")
    return out / f"{area}.md"


def _is_scifact(path: Path) -> bool:
    if not path.name.endswith(".jsonl"):
        return False
    with path.open(encoding="utf-8") as fh:
        first = json.loads(fh.readline())
    return "cited_doc_ids" in first or isinstance(first.get("evidence"), dict)


if __name__ == "__main__":
    raise SystemExit(main())
