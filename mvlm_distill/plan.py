"""Plan summary: jobs, GPU jobs and requested GPU-hours per rule, from a Snakemake dry run.

    python -m mvlm_distill.plan --configfile configs/paper.yaml [other snakemake options]

Reads the resources each job requests (first attempt; retries ask for more) from the dry run's
job listing, so it reflects exactly what a cluster profile would submit.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import defaultdict

_RULE = re.compile(r"^(?:local)?rule (\S+):$")
_RESOURCES = re.compile(r"^\s+resources: (.*)$")


def parse_dry_run(text: str) -> dict[str, dict]:
    """{rule: {jobs, gpu_jobs, gpu_hours, cpu_hours}} from `snakemake -n` output (not --quiet)."""
    summary: dict[str, dict] = defaultdict(lambda: {"jobs": 0, "gpu_jobs": 0, "gpu_hours": 0.0, "runtime_hours": 0.0})
    rule = None
    for line in text.splitlines():
        m = _RULE.match(line.strip())
        if m:
            rule = m.group(1)
            summary[rule]["jobs"] += 1
            continue
        m = _RESOURCES.match(line)
        if m and rule is not None:
            res = dict(item.split("=", 1) for item in m.group(1).split(", ") if "=" in item)
            hours = float(res.get("runtime", 0)) / 60.0
            gpus = float(res.get("gpu", 0) or 0)
            summary[rule]["runtime_hours"] += hours
            if gpus:
                summary[rule]["gpu_jobs"] += 1
                summary[rule]["gpu_hours"] += gpus * hours
            rule = None
    summary.pop("all", None)
    return dict(summary)


def format_summary(summary: dict[str, dict]) -> str:
    lines = [f"{'rule':<20}{'jobs':>8}{'gpu jobs':>10}{'GPU-hours':>11}{'job-hours':>11}"]
    for rule, s in sorted(summary.items(), key=lambda kv: -kv[1]["gpu_hours"]):
        lines.append(f"{rule:<20}{s['jobs']:>8}{s['gpu_jobs']:>10}{s['gpu_hours']:>11.1f}{s['runtime_hours']:>11.1f}")
    total = {k: sum(s[k] for s in summary.values()) for k in ("jobs", "gpu_jobs", "gpu_hours", "runtime_hours")}
    lines.append(f"{'total':<20}{total['jobs']:>8}{total['gpu_jobs']:>10}{total['gpu_hours']:>11.1f}{total['runtime_hours']:>11.1f}")
    lines.append("(requested time limits of the first attempt; actual use is lower)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--cores", "1", *args], capture_output=True, text=True
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-3000:])
        return proc.returncode
    print(format_summary(parse_dry_run(proc.stdout + proc.stderr)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
