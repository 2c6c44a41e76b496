"""Hub artifacts a study names, fetched once on the submit host into a project-local cache.

Compute nodes often have no internet. The workflow's fetch rules (localrules, run where
Snakemake runs) download every hub artifact of the config into ``hub_cache`` (config key,
default ``hub_cache/``) in huggingface_hub's own cache layout::

    hub_cache/hub/models--org--name/snapshots/<commit>/...   refs/main -> <commit>
    hub_cache/hub/datasets--org--name/snapshots/<commit>/...

and every other job runs with ``HF_HUB_OFFLINE=1`` against it (``hub_env``), so the libraries
(open_clip, transformers, datasets), which ask for ``main``, read the fetched snapshot and never
the network. A pinned ``revision`` (branch, tag or commit) is what ``refs/main`` points to after
the fetch; without one, the commit ``main`` had at the first fetch stays pinned until the cache
is emptied.

List what a config would fetch (no network)::

    python -m mvlm_distill.hub --configfile configs/paper.yaml
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

DEFAULT_CACHE = "hub_cache"
COMMIT = re.compile(r"[0-9a-f]{40}")

# what a job needs of each kind of artifact: each group must match at least one file
_WEIGHTS = ("*.safetensors", "*.safetensors.index.json", "pytorch_model*.bin", "pytorch_model.bin.index.json")
_TOKENIZER = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "*.model", "vocab.*",
              "merges.txt", "added_tokens.json")
NEEDS = {
    # transformers: config, weights, tokenizer, image processor
    "hf_model": {"patterns": ("*.json", *_WEIGHTS, *_TOKENIZER), "required": (("config.json",), _WEIGHTS,
                                                                             ("tokenizer_config.json",))},
    # open_clip's HF text tower built without its weights: config and tokenizer only
    "hf_text_tower": {"patterns": ("config.json", *_TOKENIZER), "required": (("config.json",),
                                                                           ("tokenizer_config.json",))},
    # open_clip pretrained weights: one file (open_clip prefers the safetensors one)
    "open_clip_weights": {"patterns": ("open_clip_model.safetensors", "open_clip_pytorch_model.bin"),
                          "required": (("open_clip_model.safetensors", "open_clip_pytorch_model.bin"),)},
    "dataset": {"patterns": ("*",), "required": (("*",),)},
}


class HubFetchError(RuntimeError):
    """An artifact is neither in the cache nor downloadable: the message says how to place it."""


@dataclass
class Artifact:
    repo_id: str
    kind: str  # a key of NEEDS
    revision: str = "main"
    used_by: str = ""  # config key that names it
    files: list[str] = field(default_factory=list)  # filled by fetch

    @property
    def repo_type(self) -> str:
        return "dataset" if self.kind == "dataset" else "model"


def hub_env(cache_root: str | os.PathLike) -> dict[str, str]:
    """Environment of every job but the fetch: the project's cache, never the network."""
    root = Path(cache_root).absolute()
    return {
        "HF_HOME": str(root),
        "HF_HUB_CACHE": str(root / "hub"),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }


def _is_local(value) -> bool:
    return bool(value) and (os.path.sep in str(value) and Path(str(value)).exists() or Path(str(value)).is_dir())


def model_fetch_keys(spec: dict) -> dict | None:
    """The model keys that decide what is fetched, or None when nothing is (toy, local folders).
    No imports: the workflow calls this while planning."""
    if spec.get("source") == "hf":
        if _is_local(spec.get("checkpoint")):
            return None
    elif spec.get("source") != "open_clip":
        return None
    elif spec.get("config") and _is_local(spec.get("pretrained")):  # a local checkpoint folder (a shipped teacher)
        return None
    return {k: spec[k] for k in ("source", "checkpoint", "pretrained", "revision", "text_revision") if k in spec}


def benchmark_fetch_keys(spec: dict) -> dict | None:
    """A benchmark read from the Hub (``source: hf`` with its ``hf`` block: ``dataset``, ``revision``,
    optional ``config``; data/adapters/hub.py reads the same block), or None."""
    hf = spec.get("hf") or {}
    if spec.get("source") != "hf" or not hf.get("dataset"):
        return None
    return {k: hf[k] for k in ("dataset", "config", "revision") if k in hf}


def model_artifacts(keys: dict, name: str = "") -> list[Artifact]:
    """What loading the model needs from the Hub (open_clip names are resolved in its registry)."""
    where = f"models.{name}" if name else "models"
    if keys["source"] == "hf":
        return [Artifact(keys["checkpoint"], "hf_model", keys.get("revision", "main"), f"{where}.checkpoint")]
    import open_clip

    artifacts = []
    checkpoint, pretrained = keys["checkpoint"], keys.get("pretrained")
    if pretrained and not _is_local(pretrained):
        cfg = open_clip.get_pretrained_cfg(checkpoint, pretrained)
        hub_id = (cfg or {}).get("hf_hub")
        if not hub_id:
            raise HubFetchError(
                f"{where}.pretrained: open_clip has no Hub weights for {checkpoint!r} / {pretrained!r} "
                f"(open_clip.list_pretrained() lists the known pairs); point `pretrained` at a local file instead.")
        repo_id, filename = os.path.split(hub_id)  # as open_clip splits it: 'org/name/' or 'org/name/file'
        art = Artifact(repo_id, "open_clip_weights", keys.get("revision", "main"), f"{where}.pretrained")
        if filename:
            art.files = [filename]
        artifacts.append(art)
    model_cfg = open_clip.get_model_config(checkpoint) or {}
    text_cfg = model_cfg.get("text_cfg", {})
    for repo in dict.fromkeys(text_cfg.get(k) for k in ("hf_model_name", "hf_tokenizer_name")):
        if repo and not _is_local(repo):
            artifacts.append(Artifact(repo, "hf_text_tower", keys.get("text_revision", "main"),
                                      f"{where}.text_revision (text tower of {checkpoint})"))
    return artifacts


def benchmark_artifacts(keys: dict, name: str = "") -> list[Artifact]:
    return [Artifact(keys["dataset"], "dataset", keys.get("revision", "main"), f"benchmarks.{name}.hf.dataset")]


def study_artifacts(config: dict) -> list[Artifact]:
    """Every hub artifact of a study config: models, benchmarks, then the mteb block's datasets."""
    out = []
    for spec in config.get("models", []):
        keys = model_fetch_keys(spec)
        if keys:
            out += model_artifacts(keys, spec.get("name", ""))
    for name, spec in (config.get("benchmarks") or {}).items():
        keys = benchmark_fetch_keys(spec or {})
        if keys:
            out += benchmark_artifacts(keys, name)
    if (config.get("mteb") or {}).get("tasks"):  # at the revisions mteb pins
        from mvlm_distill.evaluate.mteb_tasks import mteb_artifacts

        out += mteb_artifacts(config["mteb"]["tasks"])
    return out


# ---------------------------------------------------------------- the cache
def repo_folder(cache: Path, art: Artifact) -> Path:
    return Path(cache) / f"{art.repo_type}s--{art.repo_id.replace('/', '--')}"


def _complete(snapshot: Path, art: Artifact) -> list[str] | None:
    """The snapshot's files when every required group matches one, else None."""
    if not snapshot.is_dir():
        return None
    files = sorted(str(p.relative_to(snapshot)) for p in snapshot.rglob("*") if p.is_file())
    if art.files:
        return files if all(f in files for f in art.files) else None
    for group in NEEDS[art.kind]["required"]:
        if not any(fnmatch.fnmatch(f, pattern) for f in files for pattern in group):
            return None
    return files


def cached_commit(cache: Path, art: Artifact) -> str | None:
    """The commit of a complete snapshot of ``art`` at its revision in the cache, or None."""
    folder = repo_folder(cache, art)
    commit = art.revision if COMMIT.fullmatch(art.revision) else None
    ref = folder / "refs" / art.revision
    if commit is None and ref.is_file():
        commit = ref.read_text().strip()
    if commit and _complete(folder / "snapshots" / commit, art) is not None:
        return commit
    return None


def pin_main(cache: Path, art: Artifact, commit: str) -> None:
    """Point refs/main at the fetched commit: the libraries ask for main, offline they get this."""
    refs = repo_folder(cache, art) / "refs"
    refs.mkdir(parents=True, exist_ok=True)
    for name in {"main", art.revision} - {commit}:
        (refs / name).write_text(commit)


def how_to_place(cache: Path, art: Artifact) -> str:
    folder = repo_folder(cache, art)
    kind = "--repo-type dataset " if art.repo_type == "dataset" else ""
    return (f"place it by hand: on a machine with network run `hf download {art.repo_id} {kind}"
            f"--revision {art.revision} --cache-dir DIR` and copy DIR/{folder.name} into {cache}, or put the "
            f"repository's files into {folder}/snapshots/<commit>/ and write <commit> into {folder}/refs/main")


def _unreachable() -> str | None:
    """Why the Hub cannot be reached, or None; one quick try (the hub client retries for ~25 s)."""
    import urllib.error
    import urllib.request

    from huggingface_hub import constants

    try:
        urllib.request.urlopen(constants.ENDPOINT, timeout=10).close()
    except urllib.error.HTTPError:
        return None  # an answer, whatever its status: the network is there
    except OSError as err:
        return f"{constants.ENDPOINT} is unreachable ({getattr(err, 'reason', err)})"
    return None


def _download(cache: Path, art: Artifact) -> str:
    from huggingface_hub import HfApi, snapshot_download

    files = art.files
    if not files:
        listed = HfApi().list_repo_files(art.repo_id, repo_type=art.repo_type, revision=art.revision)
        files = [f for f in listed if any(fnmatch.fnmatch(f, p) for p in NEEDS[art.kind]["patterns"])]
        if art.kind == "open_clip_weights":  # one weights file, as open_clip picks it
            files = [f for f in NEEDS[art.kind]["patterns"] if f in files][:1]
        elif any(f.endswith(".safetensors") for f in files):  # no duplicate .bin weights
            files = [f for f in files if not fnmatch.fnmatch(f, "pytorch_model*.bin")]
    path = snapshot_download(art.repo_id, repo_type=art.repo_type, revision=art.revision, cache_dir=cache,
                             allow_patterns=files or None)
    return Path(path).name


def fetch(art: Artifact, cache: str | os.PathLike, offline: bool = False) -> dict:
    """Make ``art`` available in ``cache`` (the HF hub cache folder); the record of what is there.

    A complete snapshot already in the cache is used without any network access."""
    cache = Path(cache)
    commit = cached_commit(cache, art)
    if commit is None:
        if offline:
            raise HubFetchError(
                f"{art.repo_id} ({art.used_by}, revision {art.revision}) is not in {cache} and HF_HUB_OFFLINE "
                f"is set, so it is not downloaded; {how_to_place(cache, art)}.")
        reason = _unreachable()
        if reason:
            raise HubFetchError(
                f"{art.repo_id} ({art.used_by}, revision {art.revision}) is not in {cache} and {reason}; "
                f"{how_to_place(cache, art)}.")
        try:
            commit = _download(cache, art)
        except Exception as err:  # no network, unknown repo, gated repo: one sentence, the way out
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise HubFetchError(
                f"could not download {art.repo_id} ({art.used_by}, revision {art.revision}) into {cache}: "
                f"{type(err).__name__}: {reason[:200]}; {how_to_place(cache, art)}.") from err
        if cached_commit(cache, Artifact(art.repo_id, art.kind, commit, files=art.files)) is None:
            raise HubFetchError(
                f"{art.repo_id} ({art.used_by}) at {commit} lacks files a job needs "
                f"({NEEDS[art.kind]['required']}); {how_to_place(cache, art)}.")
    pin_main(cache, art, commit)
    snapshot = repo_folder(cache, art) / "snapshots" / commit
    record = asdict(art)
    record.update(commit=commit, files=_complete(snapshot, art) or [], snapshot=str(snapshot.relative_to(cache)))
    return record


def fetch_all(artifacts: list[Artifact], cache: str | os.PathLike, offline: bool = False) -> list[dict]:
    return [fetch(art, cache, offline) for art in artifacts]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="List the hub artifacts a study config names (no network).")
    parser.add_argument("--configfile", default="config.yaml")
    parser.add_argument("--json", action="store_true", help="one JSON object per artifact")
    args = parser.parse_args(argv)
    import yaml

    config = yaml.safe_load(Path(args.configfile).read_text(encoding="utf-8"))
    cache = Path(config.get("hub_cache", DEFAULT_CACHE)) / "hub"
    arts = study_artifacts(config)
    for art in arts:
        where = "cached" if cached_commit(cache, art) else "to fetch"
        if args.json:
            print(json.dumps({**asdict(art), "repo_type": art.repo_type, "status": where}))
        else:
            files = f" files {art.files}" if art.files else ""
            print(f"{art.repo_type:7} {art.repo_id}@{art.revision}  {art.kind}{files}  <- {art.used_by}  [{where}]")
    print(f"{len(arts)} artifacts, cache {cache}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
