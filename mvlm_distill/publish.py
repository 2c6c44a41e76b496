"""Publishing exports to the Hugging Face Hub (opt-in rule publish_exports; never run by default).

A Hub copy differs from the local export in two places: ``open_clip_config.json`` names the text
tower by the repository id (``hf-hub:`` loading then fetches the tower's ``config.json`` from the
same repository), and the card's usage snippet loads from the repository.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .card import hub_card
from .export import EXPORT_INFO, OPEN_CLIP_CONFIG


class PublishError(ValueError):
    """A publish entry names no export or a repository id the Hub would refuse."""


#: files a repository may hold from an earlier publish that uploaded the whole folder
STALE_UPLOADS = (".snakemake_timestamp",)


def export_file_names(folder: Path) -> list[str]:
    """The export's own files: those its ``mvlm_export.json`` lists; for an export written before it
    listed them, every file but hidden ones (Snakemake puts ``.snakemake_timestamp`` into every folder
    output, and it is no part of the model)."""
    listed = json.loads((folder / EXPORT_INFO).read_text(encoding="utf-8")).get("files")
    if listed is None:
        paths = [p.relative_to(folder) for p in sorted(folder.rglob("*")) if p.is_file()]
        return [p.as_posix() for p in paths if not any(part.startswith(".") for part in p.parts)]
    missing = [name for name in listed if not (folder / name).is_file()]
    if missing:
        raise PublishError(f"{folder}: {missing[0]}, listed in {EXPORT_INFO}, is missing; run the export_student "
                           "rule again")
    return list(listed)


def hub_files(export_dir: str | os.PathLike, repo_id: str) -> dict[str, bytes]:
    """``path in repository -> content`` of the Hub copy of an export (its own files only)."""
    folder = Path(export_dir)
    if not (folder / EXPORT_INFO).is_file():
        raise PublishError(f"{folder}: not an export (no {EXPORT_INFO}); run the export_student rule first")
    files = {name: (folder / name).read_bytes() for name in export_file_names(folder)}
    if OPEN_CLIP_CONFIG in files:
        full = json.loads(files[OPEN_CLIP_CONFIG])
        text_cfg = full["model_cfg"].get("text_cfg", {})
        if text_cfg.get("hf_model_name"):
            text_cfg["hf_model_name"] = text_cfg["hf_tokenizer_name"] = repo_id
        files[OPEN_CLIP_CONFIG] = (json.dumps(full, indent=2) + "\n").encode()
    if "README.md" in files:
        files["README.md"] = hub_card(files["README.md"].decode("utf-8"), repo_id).encode()
    return files


def check_repo_id(repo_id: str) -> str:
    parts = repo_id.split("/")
    if len(parts) != 2 or not all(parts) or any(c.isspace() for c in repo_id):
        raise PublishError(f"publish.repositories: repo_id {repo_id!r} must look like 'owner/name'")
    return repo_id


def publish_exports(entries: list[dict], export_dirs: list, dry_run: bool = True) -> list[dict]:
    """Upload each entry's export (``export: model/method/seedN``, ``repo_id``, ``private``) from its
    folder, ``export_dirs[i]`` for ``entries[i]`` (the rule's declared inputs).

    Returns the plan: repository, visibility and the files (with sizes) uploaded, or that would be with
    ``dry_run`` (then nothing contacts the Hub). An existing repository gets the visibility asked for
    before anything is uploaded to it (``create_repo`` leaves an existing one as it is).
    """
    if len(entries) != len(export_dirs):
        raise ValueError(f"{len(entries)} publish.repositories entries for {len(export_dirs)} export folders")
    plan = []
    for entry, export_dir in zip(entries, export_dirs):
        repo_id = check_repo_id(entry["repo_id"])
        files = hub_files(export_dir, repo_id)
        plan.append({"export": entry["export"], "repo_id": repo_id, "private": bool(entry.get("private", True)),
                     "files": {name: len(content) for name, content in files.items()}, "dry_run": dry_run})
        if dry_run:
            continue
        from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi

        api = HfApi()
        private = bool(entry.get("private", True))
        api.create_repo(repo_id, private=private, exist_ok=True)
        api.update_repo_settings(repo_id, private=private)
        stale = [name for name in api.list_repo_files(repo_id) if name in STALE_UPLOADS]
        api.create_commit(repo_id, operations=[CommitOperationAdd(path_in_repo=name, path_or_fileobj=content)
                                               for name, content in files.items()]
                          + [CommitOperationDelete(path_in_repo=name) for name in stale],
                          commit_message=f"Upload {entry['export']} (mvlm-distill export)")
    return plan
