"""Rule check_teacher: the teacher row scored under each published reference's protocol and compared
(mvlm_distill/evaluate/teacher_check.py). A value not reproduced stops the study with one sentence, or
is a warning with teacher_check.on_mismatch: warn."""

import sys

from mvlm_distill.logs import log_to

with log_to(snakemake.log[0]):
    from mvlm_distill.data.formats import read_benchmark
    from mvlm_distill.evaluate.pipeline import score_row_language
    from mvlm_distill.evaluate.score import check_protocol
    from mvlm_distill.evaluate.teacher_check import TeacherCheckError, compare, mismatch_sentence
    from mvlm_distill.io import write_csv
    from mvlm_distill.paths import benchmark_folder

    settings = snakemake.params.settings
    measured = {}
    for ref in settings["references"]:
        protocol = check_protocol(ref["protocol"])
        key = (ref["benchmark"], protocol["queries"], protocol["ties"])
        if key in measured:
            continue
        at = settings["benchmarks"].index(ref["benchmark"])
        bench = read_benchmark(benchmark_folder(snakemake.input.benchmarks[at]), validate=False)
        measured[key] = {
            language: score_row_language(bench, snakemake.input.texts[at], snakemake.input.images[at],
                                         language=language, split=settings["split"], n_boot=0,
                                         protocol=protocol)[1]
            for language in settings["languages"][ref["benchmark"]]
        }
    table = compare(settings["references"], measured, tolerance=settings["tolerance"],
                    average_tolerance=settings["average_tolerance"])
    write_csv(snakemake.output[0], table)
    print(table.to_string(index=False))
    sentence = mismatch_sentence(snakemake.wildcards.model, table)
    if sentence and settings["on_mismatch"] == "stop":
        raise TeacherCheckError(sentence + " Set teacher_check.on_mismatch: warn to distil anyway.")
    if sentence:
        sys.__stderr__.write(f"Teacher check warning: {sentence}\n")
        print(f"Teacher check warning: {sentence}")
