"""A real distillation run in its own process, for the preemption tests (tests/test_resume.py).

usage: python resume_worker.py WORKDIR STEPS [POINT SIGNAL N]
Builds a tiny benchmark, a toy teacher and its caches deterministically, distils a student with
DR+ED, checkpointing every 5 steps into WORKDIR/state, and writes WORKDIR/student.safetensors.

With POINT SIGNAL N the process sends itself SIGNAL during its N-th checkpoint, at POINT:
``written`` (the new checkpoint is fully written to its temporary file, not yet renamed into
place) or ``saved`` (the checkpoint is in place). A kill at a chosen moment, not after a timer.
"""

import contextlib
import os
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

from mvlm_distill.data import lexicon
from mvlm_distill.data.corpus import corpus_items, select_by_language
from mvlm_distill.data.formats import read_benchmark
from mvlm_distill.data.synthetic import generate_benchmark
from mvlm_distill.distill import trainer
from mvlm_distill.distill.losses import build_loss
from mvlm_distill.distill.trainer import TrainingSettings, corpus_in_memory, distill
from mvlm_distill.models import build_student, build_toy_teacher, build_toy_tokenizer

SIZE = {"width": 32, "heads": 2, "layers": 4, "vision_layers": 1, "context_length": 24}


def signal_during_checkpoint(point: str, signum: int, nth: int) -> None:
    """Wrap the checkpoint writer so that its ``nth`` call signals this process at ``point``."""
    calls = {"n": 0}

    def count_and_signal():
        calls["n"] += 1
        if calls["n"] == nth:
            os.kill(os.getpid(), signum)

    if point == "written":  # inside the trainer's atomic write: after the body, before the rename
        atomic_path = trainer.atomic_path

        @contextlib.contextmanager
        def signalling_atomic_path(path):
            with atomic_path(path) as tmp:
                yield tmp
                count_and_signal()

        trainer.atomic_path = signalling_atomic_path
    elif point == "saved":
        save_state = trainer._save_state

        def signalling_save_state(*args, **kwargs):
            save_state(*args, **kwargs)
            count_and_signal()

        trainer._save_state = signalling_save_state
    else:
        raise SystemExit(f"unknown kill point {point!r}")


def main(workdir: Path, steps: int) -> None:
    torch.set_num_threads(1)
    data = workdir / "data"
    if not (data / "meta.json").exists():
        generate_benchmark(data, seed=0, n_images={"train": 64, "val": 4, "test": 4}, languages=["en", "de", "th"])
    bench = read_benchmark(data)
    captions = bench.split_captions("train")
    items = corpus_items(bench.captions, select_by_language(captions, {"en": 1.0, "de": 1.0, "th": 0.5}, seed=0))
    pieces = lexicon.tokenizer_pieces(bench.languages)
    build_toy_tokenizer(captions["text"].tolist(), pieces, workdir / "tokenizer")
    teacher = build_toy_teacher("clip", workdir / "tokenizer", SIZE, seed=0)
    corpus = corpus_in_memory(teacher, bench, items, 64)
    student = build_student(teacher, [0, 2])
    settings = TrainingSettings(steps=steps, batch_size=16, lr=1e-3, warmup_steps=3, checkpoint_every=5, seed=0)
    print("training", flush=True)
    distill(
        student, corpus, build_loss({"DR": 1.0, "ED": 1.0}, "clip"), settings,
        logit_scale=teacher.logit_scale, logit_bias=teacher.logit_bias, family="clip",
        state_dir=workdir / "state", log_path=workdir / "loss_log.csv", progress=False,
        identity={"teacher": teacher.fingerprint()},
    )
    state = {k: v.contiguous() for k, v in student.text_encoder.state_dict().items()}
    save_file(state, str(workdir / "student.safetensors"))


if __name__ == "__main__":
    if len(sys.argv) == 6:
        signal_during_checkpoint(sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    main(Path(sys.argv[1]), int(sys.argv[2]))
