"""Rule publish_exports (opt-in): push the chosen exports to the Hugging Face Hub, or list them (dry run)."""

from pathlib import Path

from mvlm_distill.logs import log_to

with log_to(snakemake.log[0]):
    from mvlm_distill.io import write_json
    from mvlm_distill.publish import publish_exports

    folders = [Path(info).parent for info in snakemake.input.exports]  # each export's mvlm_export.json
    plan = publish_exports(snakemake.params.publish, folders, dry_run=snakemake.params.dry_run)
    for repo in plan:
        verb = "would upload" if repo["dry_run"] else "uploaded"
        print(f"{repo['export']} -> {repo['repo_id']} ({'private' if repo['private'] else 'public'}): {verb}")
        for name, size in repo["files"].items():
            print(f"  {name} ({size:,} bytes)")
    write_json(snakemake.output[0], plan)
