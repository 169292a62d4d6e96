"""Assemble the sections that ``bench/run_all.sh`` ran into ONE report: ``bench/report.md`` + ``.json``.

Each section left in the work directory: ``NAME.meta.json`` (title, command, rc, seconds, load
averages, output format, optional result JSON path), ``NAME.out`` (stdout), ``NAME.err`` (stderr)
and optionally its own markdown (``NAME.md``) and JSON result.

    python bench/make_report.py --work DIR --md bench/report.md --json bench/report.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info() -> dict:
    info = {
        "date": dt.datetime.now(dt.timezone.utc).astimezone().isoformat(timespec="seconds"),
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    try:
        mem_kb = next(int(x.split()[1]) for x in Path("/proc/meminfo").read_text().splitlines() if x.startswith("MemTotal"))
        info["memory_gib"] = round(mem_kb / 2**20, 1)
    except (OSError, StopIteration, ValueError):
        pass
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads_default"] = torch.get_num_threads()
        info["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:
        info["torch"] = None
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                               text=True)
        info["git_commit"] = rev.stdout.strip() + (" (+ uncommitted changes)" if dirty.stdout.strip() else "")
    except OSError:
        info["git_commit"] = None
    from handos_model import DEFAULT_WEIGHTS

    shown = DEFAULT_WEIGHTS.relative_to(ROOT) if DEFAULT_WEIGHTS.is_relative_to(ROOT) else DEFAULT_WEIGHTS.name
    info["handos_weights"] = str(shown) if DEFAULT_WEIGHTS.is_file() else "none shipped yet (untrained model, same cost)"
    return info


def split_trailing_json(text: str) -> tuple[str, object | None]:
    """Scripts that print a report then one JSON object (bare or in a ```json fence): -> (text before, object)."""
    m = re.search(r"\n?```json\n(.*)\n```\s*$", text, re.DOTALL)
    if m:
        try:
            return text[: m.start()].rstrip(), json.loads(m.group(1))
        except ValueError:
            pass
    lines = text.rstrip().splitlines()
    for i, line in enumerate(lines):
        if line.startswith("{") or line.startswith("["):
            try:
                return "\n".join(lines[:i]).rstrip(), json.loads("\n".join(lines[i:]))
            except ValueError:
                continue
    return text.rstrip(), None


def drop_json_lines(text: str) -> str:
    """Markdown output interleaved with one-line JSON records and ``[tag] ...`` progress lines: keep the markdown."""
    keep = []
    for line in text.splitlines():
        if re.match(r"^\[[\w-]+\] ", line):
            continue
        if line.startswith("{") and line.rstrip().endswith("}"):
            try:
                json.loads(line)
                continue
            except ValueError:
                pass
        keep.append(line)
    return "\n".join(keep)


def read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def tail(text: str, n: int = 40) -> str:
    lines = text.rstrip().splitlines()
    return "\n".join(lines[-n:])


def load_sections(work: Path) -> list[dict]:
    secs = []
    for meta_path in sorted(work.glob("*.meta.json"), key=lambda p: json.loads(read(p) or "{}").get("order", 0)):
        meta = json.loads(read(meta_path))
        name = meta["name"]
        out, err = read(work / f"{name}.out"), read(work / f"{name}.err")
        text, trailing = split_trailing_json(out)
        result = None
        if meta.get("json") and Path(meta["json"]).is_file():
            try:
                result = json.loads(read(Path(meta["json"])))
            except ValueError:
                result = None
        if result is None:
            result = trailing
        md_file = work / f"{name}.md"
        secs.append({**meta, "stdout_text": text, "stderr": err, "result": result,
                     "markdown": read(md_file) if md_file.is_file() else None})
    return secs


def status_of(sec: dict) -> str:
    if sec.get("skipped"):
        return f"skipped: {sec['skipped']}"
    rc = sec.get("rc")
    if rc == 0:
        return "ok"
    if rc in (124, 137):
        return f"TIMED OUT after {sec.get('timeout_s')} s"
    return f"FAILED (exit code {rc})"


def to_markdown(info: dict, secs: list[dict]) -> str:
    L = ["# HandOS benchmark report", ""]
    L.append("Produced by `make bench` (`bench/run_all.sh`). Numbers from this one machine; on a shared, loaded "
             "machine they are slower and noisier (see the load averages).")
    L.append("")
    L.append("| | |")
    L.append("|---|---|")
    for k, label in (("date", "date"), ("cpu_model", "CPU"), ("cores", "cores"), ("memory_gib", "memory (GiB)"),
                     ("torch", "torch"), ("python", "python"), ("cuda", "GPU"), ("git_commit", "commit"),
                     ("handos_weights", "HandOS weights")):
        if k in info:
            L.append(f"| {label} | {info[k] if info[k] is not None else 'none'} |")
    L.append("")
    L.append("| section | status | seconds | load average at start -> end (1, 5, 15 min) |")
    L.append("|---|---|---|---|")
    for s in secs:
        L.append(f"| {s['title']} | {status_of(s)} | {s.get('seconds', 0):.0f} | "
                 f"{s.get('load_start', '')} -> {s.get('load_end', '')} |")
    for s in secs:
        L.append("")
        if s.get("markdown"):
            body = s["markdown"].strip()
            if not body.startswith("## "):
                L.append(f"## {s['title']}")
                L.append("")
            L.append(body)
        else:
            L.append(f"## {s['title']}")
            L.append("")
            if s.get("skipped"):
                L.append(f"Skipped: {s['skipped']}.")
                continue
            if s.get("format") == "markdown" and s["stdout_text"].strip():
                L.append(drop_json_lines(s["stdout_text"]).strip())
            elif s["stdout_text"].strip():
                L.append("```")
                L.append(tail(s["stdout_text"], 60))
                L.append("```")
        if s.get("command"):
            L.append("")
            L.append(f"Command: `{s['command']}` ({status_of(s)}, {s.get('seconds', 0):.0f} s)")
        if s.get("rc") not in (0, None) and not s.get("skipped"):
            L.append("")
            L.append("Last lines of its error output:")
            L.append("")
            L.append("```")
            L.append(tail(s["stderr"] or s["stdout_text"], 25))
            L.append("```")
    return "\n".join(L) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--md", type=Path, default=ROOT / "bench" / "report.md")
    ap.add_argument("--json", type=Path, default=ROOT / "bench" / "report.json")
    args = ap.parse_args(argv)
    info = machine_info()
    secs = load_sections(args.work)
    args.md.write_text(to_markdown(info, secs), encoding="utf-8")
    report = {
        "machine": info,
        "sections": {
            s["name"]: {
                "title": s["title"], "status": status_of(s), "rc": s.get("rc"), "seconds": s.get("seconds"),
                "command": s.get("command"), "load_start": s.get("load_start"), "load_end": s.get("load_end"),
                "result": s["result"],
                **({"output_tail": tail(s["stdout_text"], 60)} if s["result"] is None and s["stdout_text"] else {}),
            }
            for s in secs
        },
    }
    args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"[bench] wrote {args.md} and {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
