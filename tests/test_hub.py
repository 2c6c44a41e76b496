"""Offline compute nodes: the fetch step fills a project-local hub cache, every other job reads it offline.

The caches here are built by the tests in huggingface_hub's own layout
(``models--org--name/snapshots/<commit>/...``, ``refs/main``) from a tiny SigLIP2 model saved with
``save_pretrained``; a local socket stands in for the Hub and counts every connection."""

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

from study import REPO
from study import project_copy, reduced_config, run_snakemake

COMMIT = "0123456789abcdef0123456789abcdef01234567"
REPO_ID = "mvlm-test/tiny-siglip2"


class FakeHub:
    """A TCP endpoint that records connections and answers none: any network use is seen."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.connections = 0
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self):
        self.sock.close()


@pytest.fixture
def fake_hub():
    hub = FakeHub()
    yield hub
    hub.close()


def closed_port_url() -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there: connection refused, as with no network
    return f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def hub_repo_files(tmp_path_factory):
    """The files of a Hub model repository: config, safetensors weights, tokenizer, image processor."""
    from mvlm_distill.models import save_model
    from tiny_models import tiny_teacher

    work = tmp_path_factory.mktemp("hubrepo")
    save_model(tiny_teacher("siglip2", work / "build"), work / "saved")
    repo = work / "repo"
    repo.mkdir()
    for name in ("config.json", "model.safetensors", "preprocessor_config.json"):
        shutil.copy(work / "saved" / name, repo / name)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(work / "saved" / "tokenizer" / name, repo / name)
    return repo


def place(cache: Path, repo_files: Path, commit: str = COMMIT, main: bool = False) -> Path:
    folder = cache / f"models--{REPO_ID.replace('/', '--')}"
    shutil.copytree(repo_files, folder / "snapshots" / commit)
    if main:
        (folder / "refs").mkdir(parents=True, exist_ok=True)
        (folder / "refs" / "main").write_text(commit)
    return folder


def run_py(code: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **env}, cwd=REPO)


def test_paper_config_names_its_artifacts():
    from mvlm_distill.hub import study_artifacts

    config = yaml.safe_load((REPO / "configs" / "paper.yaml").read_text())
    arts = {(a.repo_id, a.kind) for a in study_artifacts(config)}
    assert arts == {
        ("laion/CLIP-ViT-B-32-xlm-roberta-base-laion5B-s13B-b90k", "open_clip_weights"),
        ("xlm-roberta-base", "hf_text_tower"),  # the name open_clip's config asks transformers for
        ("google/siglip2-base-patch16-224", "hf_model"),
    }
    # toy models and a local folder fetch nothing; a Hub dataset benchmark does
    config = reduced_config()
    config["models"].append({"name": "local", "family": "siglip2", "source": "hf", "checkpoint": str(REPO)})
    rev = "0" * 40
    config["benchmarks"]["hubdata"] = {"kind": "xm3600", "source": "hf", "hf": {"dataset": "org/data", "revision": rev}}
    assert [(a.repo_id, a.repo_type, a.revision) for a in study_artifacts(config)] == [("org/data", "dataset", rev)]


def test_cached_artifact_is_used_without_network(hub_repo_files, tmp_path, fake_hub):
    """A pinned commit found in the cache: no connection, and refs/main now points at it."""
    cache = tmp_path / "hub"
    folder = place(cache, hub_repo_files)
    code = f"""
from mvlm_distill.hub import Artifact, fetch
r = fetch(Artifact({REPO_ID!r}, "hf_model", {COMMIT!r}, "models.tiny.revision"), {str(cache)!r})
print(r["commit"], sorted(r["files"]))
"""
    proc = run_py(code, {"HF_ENDPOINT": fake_hub.url, "HF_HUB_OFFLINE": "0"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split()[0] == COMMIT
    assert (folder / "refs" / "main").read_text() == COMMIT
    assert fake_hub.connections == 0


def test_incomplete_snapshot_is_not_taken_for_the_artifact(hub_repo_files, tmp_path):
    from mvlm_distill.hub import Artifact, HubFetchError, cached_commit, fetch

    cache = tmp_path / "hub"
    folder = place(cache, hub_repo_files, main=True)
    (folder / "snapshots" / COMMIT / "model.safetensors").unlink()
    art = Artifact(REPO_ID, "hf_model", "main", "models.tiny.checkpoint")
    assert cached_commit(cache, art) is None
    with pytest.raises(HubFetchError, match="HF_HUB_OFFLINE is set"):
        fetch(art, cache, offline=True)


def test_no_network_stops_with_one_sentence(tmp_path):
    code = f"""
from mvlm_distill.hub import Artifact, HubFetchError, fetch
try:
    fetch(Artifact("google/siglip2-base-patch16-224", "hf_model", "main", "models.siglip2-base.checkpoint"),
          {str(tmp_path / "hub")!r})
except HubFetchError as err:
    print(err)
"""
    proc = run_py(code, {"HF_ENDPOINT": closed_port_url(), "HF_HUB_OFFLINE": "0"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    message = proc.stdout.strip()
    assert "\n" not in message and message.endswith(".")
    assert "google/siglip2-base-patch16-224 (models.siglip2-base.checkpoint, revision main)" in message
    assert "unreachable" in message
    assert "models--google--siglip2-base-patch16-224/snapshots/<commit>/" in message and "refs/main" in message


def test_the_workflow_fetch_step_without_network(tmp_path):
    """No network and an empty cache: the fetch job fails, naming the artifact; nothing else runs."""
    work = project_copy(tmp_path / "proj")
    config = reduced_config()
    config["models"] = [{"name": "tiny", "family": "siglip2", "source": "hf", "checkpoint": REPO_ID,
                         "text_layers": 4, "student_layers": [0, 2]}]
    env = {"HF_ENDPOINT": closed_port_url(), "HF_HUB_OFFLINE": ""}
    # (--cores ends run_snakemake's --quiet list before the targets)
    proc = run_snakemake(work, config, "--cores", "2", "results/hub/models/tiny.json", env=env, timeout=300)
    assert proc.returncode != 0
    line = [ln for ln in proc.stderr.splitlines() if ln.startswith("HubFetchError")]
    assert line and REPO_ID in line[0] and "unreachable" in line[0], proc.stderr[-3000:]


@pytest.mark.slow
def test_jobs_read_the_fetched_cache_offline(hub_repo_files, tmp_path, fake_hub):
    """A hub model, pinned to a commit placed in the project cache: the fetch step pins main to it,
    the image cache and the teacher's text embeddings are computed, and no job touches the network."""
    work = project_copy(tmp_path / "proj")
    folder = place(work / "hub_cache" / "hub", hub_repo_files)  # the default hub_cache
    config = reduced_config()
    config["models"] = [{"name": "tiny", "family": "siglip2", "source": "hf", "checkpoint": REPO_ID,
                         "revision": COMMIT, "text_layers": 4, "student_layers": [0, 2]}]
    targets = ["results/caches/tiny/synthetic/test.images.npz", "results/embeddings/tiny/teacher/seed0/synthetic"]
    # the user's environment says nothing about offline: only the workflow makes the jobs offline
    env = {"HF_ENDPOINT": fake_hub.url, "HF_HUB_OFFLINE": "", "HF_DATASETS_OFFLINE": "",
           "TRANSFORMERS_OFFLINE": "", "HF_HOME": "", "HF_HUB_CACHE": ""}
    proc = run_snakemake(work, config, "--cores", "2", *targets, env=env, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert fake_hub.connections == 0, "a job tried the network"
    assert (folder / "refs" / "main").read_text() == COMMIT
    record = json.loads((work / "results" / "hub" / "models" / "tiny.json").read_text())
    assert [(a["repo_id"], a["commit"]) for a in record["artifacts"]] == [(REPO_ID, COMMIT)]
    manifest = json.loads((work / targets[1] / "manifest.json").read_text())
    assert manifest["text_layers"] == 4
    # the jobs' logs: loaded from the project cache (never the user's ~/.cache)
    log = (work / "results" / "logs" / "cache_images" / "tiny" / "synthetic.test.log").read_text()
    assert "Traceback" not in log
