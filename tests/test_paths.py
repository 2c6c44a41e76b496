"""Result locations (mvlm_distill.paths): one pattern serves the rules and the scripts."""

import pytest

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
    files = [RESULTS.benchmark_file(n, benchmark="b") for n in ("meta.json", "captions.parquet")]
    assert str(benchmark_folder(files)) == "results/data/b"
    with pytest.raises(ValueError, match="one benchmark folder"):
        benchmark_folder(files + ["results/data/c/meta.json"])
    assert optional_input([]) is None and optional_input(["x"]) == "x"
    with pytest.raises(ValueError, match="one path or none"):
        optional_input(["x", "y"])
