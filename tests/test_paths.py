"""Result locations (mvlm_distill.paths): one pattern serves the rules and the scripts."""

import pytest

from study import REPO

from mvlm_distill.paths import ResultPaths, benchmark_folder, fill, optional_input, parse_student

RESULTS = ResultPaths("results")


def test_without_fields_a_path_is_the_rule_pattern():
    assert RESULTS.scores("{language}.ranks.csv") == "results/scores/{model}/{method}/seed{seed}/{benchmark}/{language}.ranks.csv"
    assert RESULTS.student() == "results/students/{model}/{kd_method}/seed{seed}"


def test_fields_fill_in_and_the_others_stay_wildcards():
    assert RESULTS.image_cache(split="test") == "results/caches/{model}/{benchmark}/test.images.npz"
    row = {"model": "toy-clip", "method": "init", "seed": 0, "benchmark": "synthetic"}
    assert RESULTS.embeddings(**row) == "results/embeddings/toy-clip/init/seed0/synthetic"
    assert fill("{a}/{b}", b=1) == "{a}/1"


def test_logs_and_benchmarks_are_keyed_by_rule():
    assert RESULTS.log("distill", "m/ED/seed1") == "results/logs/distill/m/ED/seed1.log"
    assert RESULTS.job_benchmark("select_corpus") == "results/benchmarks/select_corpus.tsv"


def test_student_keys():
    assert parse_student("toy-clip/ED/seed2") == ("toy-clip", "ED", 2)
    assert RESULTS.export_of("toy-clip/ED/seed2") == "results/exports/toy-clip/ED/seed2/mvlm_export.json"
    for bad in ("toy-clip/ED", "toy-clip/ED/2", "toy-clip/ED/seedx"):
        with pytest.raises(ValueError, match="not a student key"):
            parse_student(bad)


def test_declared_input_helpers():
    assert str(benchmark_folder(RESULTS.benchmark_dir(benchmark="b"))) == "results/data/b"
    with pytest.raises(ValueError, match="one folder"):
        benchmark_folder(["results/data/b/meta.json", "results/data/b/captions.parquet"])
    assert optional_input([]) is None and optional_input(["x"]) == "x"
    with pytest.raises(ValueError, match="one path or none"):
        optional_input(["x", "y"])


#: the scripts that derive a path from a declared file or folder (its folder, a sibling), from which
#: kind of declared path, and why that stays inside what their rule declares
DERIVED = {
    "pretrain_teacher.py": ("output", "builds the teacher in a temporary sibling of its output folder, renamed into place"),
    "export_student.py": ("output", "writes the export folder whose mvlm_export.json is its declared output"),
    "publish_exports.py": ("input", "uploads the export folders whose mvlm_export.json files are its declared inputs"),
}


def _derived_paths(tree):
    """(kind, expression) of each `.parent` / `.parents` / `.with_name` / `.with_suffix` (a path beside or
    above, not inside) applied to an expression that holds a declared path: snakemake.input or
    snakemake.output (kind), directly or through a name bound to one (an assignment, a loop or a
    comprehension over one)."""
    import ast

    def kinds(node, bound):
        source = ast.unparse(node)
        names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
        return {k for k in ("input", "output") if f"snakemake.{k}" in source} | {
            k for name in names for k in bound.get(name, ())}

    bound = {}
    for _ in range(3):  # names bound to names bound to declared paths
        for node in ast.walk(tree):
            pairs = []
            if isinstance(node, ast.Assign):
                pairs = [(t, node.value) for t in node.targets]
            elif isinstance(node, (ast.For, ast.comprehension)):
                pairs = [(node.target, node.iter)]
            for target, value in pairs:
                if found := kinds(value, bound):
                    for name in (n.id for n in ast.walk(target) if isinstance(n, ast.Name)):
                        bound.setdefault(name, set()).update(found)
    derived = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("parent", "parents", "with_name", "with_suffix"):
            derived += [(kind, ast.unparse(node)) for kind in sorted(kinds(node.value, bound))]
    return derived


def test_no_script_reads_past_its_declared_files():
    """Each workflow script opens what its rule declares: the prepared benchmark is one declared folder
    (prepare_benchmark's output, read through benchmark_folder), never reached from a declared file's
    folder; only the scripts in DERIVED derive a path from a declared one, each for the reason given."""
    import ast

    derived = {}
    for script in sorted((REPO / "workflow" / "scripts").glob("*.py")):
        for kind, expression in _derived_paths(ast.parse(script.read_text(encoding="utf-8"))):
            derived.setdefault(script.name, set()).add(kind)
    assert derived == {name: {kind} for name, (kind, _) in DERIVED.items()}


def test_the_prepared_benchmark_is_one_declared_folder():
    """prepare_benchmark declares the benchmark's folder (a directory output); no rule declares a file
    inside one, so every reader declares the whole folder (and is rerun when it is remade)."""
    import re

    rules = "\n".join(p.read_text(encoding="utf-8") for p in sorted((REPO / "workflow" / "rules").glob("*.smk")))
    assert "benchmark=directory(RESULTS.benchmark_dir())," in rules
    assert not re.search(r"data/\{benchmark\}/|benchmark_file|meta\.json\"\)", rules.replace(
        'Path(RESULTS.benchmark_dir(benchmark=name), "meta.json").exists()', ""))
    assert not hasattr(ResultPaths, "benchmark_file")


def test_the_audit_sees_a_reach_past_an_input():
    import ast

    tree = ast.parse("from pathlib import Path\nroot = Path(snakemake.input.captions).parent\n"
                     "out = Path(snakemake.output[0])\nfor f in snakemake.input.texts:\n    Path(f).with_name('x')\n"
                     "inside = Path(snakemake.input.benchmark) / 'vqa.parquet'\nout.parent\n")
    assert sorted(kind for kind, _ in _derived_paths(tree)) == ["input", "input", "output"]
