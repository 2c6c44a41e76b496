"""Executor settings the installed SLURM plugin cannot run, refused while the Snakefile is parsed.

snakemake-executor-plugin-slurm 2.8 with ``slurm-array-jobs`` can stop submitting for good: with
30 ready jobs, ``jobs: 8`` and ``slurm-array-limit: 8`` nothing was submitted in 420 s on the
test cluster, and the same happens with the limit at or below ``jobs`` once other rules hold
slots (upstream issue #473). A run that enables arrays is refused before anything is planned.
"""

from __future__ import annotations

import sys
from importlib import metadata

PLUGIN = "snakemake-executor-plugin-slurm"
ARRAY_ISSUE = "https://github.com/snakemake/snakemake-executor-plugin-slurm/issues/473"
#: the newest plugin version seen to deadlock with job arrays; later ones are let through untested
LAST_BROKEN_ARRAYS = (2, 8)


def cli_executor_settings():
    """The executor settings Snakemake's command line built for this run (profiles included), or None.

    Snakemake 9 hands them to the workflow (``workflow.executor_settings``) only after the Snakefile
    is parsed, and never in a dry run; while it parses, they are a local of the CLI's
    ``args_to_api``, which is on the call stack. None when Snakemake is driven some other way."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "args_to_api" and "executor_settings" in frame.f_locals:
            return frame.f_locals["executor_settings"]
        frame = frame.f_back
    return None


def _plugin_version() -> str | None:
    try:
        return metadata.version(PLUGIN)
    except metadata.PackageNotFoundError:
        return None


def executor_refusal(settings, plugin_version: str | None = None) -> str | None:
    """One sentence refusing ``settings`` (an executor's settings object), or None if they can run."""
    arrays = getattr(settings, "array_jobs", None)
    if not arrays:
        return None
    version = plugin_version or _plugin_version()
    if version is None:
        return None
    from packaging.version import Version

    if Version(version).release[:2] > LAST_BROKEN_ARRAYS:
        return None
    return (
        f"slurm-array-jobs ({arrays}) is refused: with {PLUGIN} {version} job arrays can leave ready jobs "
        f"unsubmitted for good (upstream issue #473, {ARRAY_ISSUE}); remove slurm-array-jobs from the "
        "profile or the command line (docs/cluster.md, 'Job arrays')."
    )
