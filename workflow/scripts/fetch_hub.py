"""Rules fetch_model, fetch_benchmark and fetch_mteb_dataset: one model's or Hub dataset's artifacts into the project's
hub cache, on the submit host (localrules); the record lists each artifact's commit and files."""

import os

# The workflow makes every job offline; this one goes online unless the user asked for offline.
user_offline = os.environ.get("MVLM_FETCH_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")
for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ[name] = "1" if user_offline else "0"

from mvlm_distill.logs import log_to  # noqa: E402

with log_to(snakemake.log[0]):
    from mvlm_distill.evaluate.mteb_tasks import mteb_artifacts
    from mvlm_distill.hub import benchmark_artifacts, fetch_all, model_artifacts
    from mvlm_distill.io import write_json

    keys = snakemake.params.settings["keys"]
    if snakemake.rule == "fetch_model":
        artifacts = model_artifacts(keys, snakemake.wildcards.model)
    elif snakemake.rule == "fetch_mteb_dataset":  # at the revision mteb pins (mteb_tasks.MTEB_TASKS)
        artifacts = mteb_artifacts([snakemake.wildcards.mteb_task])
    else:
        artifacts = benchmark_artifacts(keys, snakemake.wildcards.benchmark)
    # a HubFetchError names the artifact and how to place it by hand (one line on the terminal)
    records = fetch_all(artifacts, os.environ["HF_HUB_CACHE"], offline=user_offline)
    write_json(snakemake.output[0], {"artifacts": records})
    for r in records:
        print(f"{r['repo_id']}@{r['commit']} ({r['kind']}): {len(r['files'])} files in {r['snapshot']}")
