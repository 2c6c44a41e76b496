"""Rule distill: one student per model x method x seed, resumable after preemption."""

import shutil
from pathlib import Path

from mvlm_distill.logs import log_to

with log_to(snakemake.log[0]):
    import torch

    from mvlm_distill.device import pick_device
    from mvlm_distill.distill.losses import build_loss
    from mvlm_distill.distill.trainer import TrainingSettings, distill, load_training_corpus
    from mvlm_distill.io import embedding_meta, file_checksum, temporary_sibling
    from mvlm_distill.models import build_student, save_model
    from mvlm_distill.paths import optional_input
    from mvlm_distill.rows import load_teacher

    torch.set_num_threads(snakemake.threads)
    device = pick_device()
    spec, loss, training = (snakemake.params.settings[k] for k in ("spec", "loss", "training"))
    seed = int(snakemake.wildcards.seed)
    teacher = load_teacher(spec, optional_input(snakemake.input.teacher), device)
    corpus = load_training_corpus(
        snakemake.input.corpus,
        snakemake.input.teacher_text,
        snakemake.input.tokens,
        snakemake.input.images,
        fingerprint=teacher.fingerprint(),
    )
    torch.manual_seed(seed)
    student = build_student(teacher, spec["student_layers"])
    # the student records the data it learnt from (its teacher's fingerprint is set by build_student)
    student.meta["corpus_checksum"] = embedding_meta(snakemake.input.teacher_text).get("checksum")
    student.meta["corpus_items_checksum"] = file_checksum(snakemake.input.corpus)
    loss_fn = build_loss(loss["weights"], teacher.family, **loss["temperatures"])
    # checkpoint_every is read from the config on purpose: it only says how often resume state is
    # saved, so it is no param and changing it retrains nothing
    checkpoint_every = snakemake.config["distillation"].get("checkpoint_every", 50)
    train = TrainingSettings.from_config({**training, "checkpoint_every": checkpoint_every}, seed)
    state_dir = Path(snakemake.params.state_dir)
    out = Path(snakemake.output[0])
    work = temporary_sibling(out)
    shutil.rmtree(work, ignore_errors=True)
    distill(
        student,
        corpus,
        loss_fn,
        train,
        logit_scale=teacher.logit_scale,
        logit_bias=teacher.logit_bias,
        family=teacher.family,
        state_dir=state_dir,
        log_path=work / "loss_log.csv",
        # a resume state made under other params, another teacher or corpus is discarded, never continued
        identity={
            "params": snakemake.params.settings,
            "teacher": student.meta["teacher_fingerprint"],
            "corpus": student.meta["corpus_checksum"],
            "corpus_items": student.meta["corpus_items_checksum"],
            "images": embedding_meta(snakemake.input.images).get("checksum"),
        },
        device=device,
    )
    save_model(student.to("cpu"), work)
    work.rename(out)  # complete or absent, never partial
    shutil.rmtree(state_dir, ignore_errors=True)  # the student is safe; drop the resume state
    print(f"student saved to {out}")
