"""SD's optimum is the teacher: a student started at the teacher and trained on SD alone stays there.

SD compares Gram matrices, so it cannot see a rotation of the whole text space: AdamW turns the
float-noise gradients at the optimum into steps of size lr, and the student random-walks along
rotations (raw cosine to the teacher ~0.995 after 300 steps here). What SD does fix is the
geometry, so the test measures the student up to the best rotation (orthogonal Procrustes) and
its similarity spread; the asymmetric variant, whose optimum is 1.4x the teacher's gaps, fails both.
"""

import shutil

import pytest
import torch

from mvlm_distill.distill.encode import encode_tokens, tokenize_texts
from mvlm_distill.distill.losses import build_loss
from mvlm_distill.distill.trainer import TrainingCorpus, TrainingSettings, distill
from mvlm_distill.models import build_student

from tiny_models import tiny_images_and_captions, tiny_teacher


def _train_from_teacher(tmp_path, **temperatures):
    torch.set_num_threads(1)
    teacher = tiny_teacher("clip", tmp_path, seed=0)
    _, pairs = tiny_images_and_captions()
    tokens = tokenize_texts(teacher, [text for _, text in pairs])
    target = torch.from_numpy(encode_tokens(teacher, tokens, 256, "cpu"))
    ids, mask = tokens["input_ids"], tokens["attention_mask"]
    corpus = TrainingCorpus([f"c{i}" for i in range(len(pairs))], ids, mask, ids, mask, target, target.clone(), target.clone())
    student = build_student(teacher, list(range(teacher.text_layer_count())))
    shutil.rmtree(tmp_path / "state", ignore_errors=True)
    settings = TrainingSettings(steps=300, batch_size=16, lr=1e-3, warmup_steps=10)
    distill(student, corpus, build_loss({"SD": 1.0}, **temperatures), settings, logit_scale=10.0, logit_bias=None,
            family="clip", state_dir=tmp_path / "state", log_path=tmp_path / "log.csv", progress=False)
    learned = torch.from_numpy(encode_tokens(student, tokens, 256, "cpu")).double()
    return learned, target.double()


def _aligned_cosine_and_spread_ratio(student, teacher):
    u, _, vt = torch.linalg.svd(student.T @ teacher)
    aligned = student @ (u @ vt)
    off = ~torch.eye(len(student), dtype=torch.bool)
    spread = (student @ student.T)[off].std() / (teacher @ teacher.T)[off].std()
    return (aligned * teacher).sum(1).min().item(), spread.item()


def test_student_started_at_the_teacher_keeps_its_geometry(tmp_path):
    cosine, spread = _aligned_cosine_and_spread_ratio(*_train_from_teacher(tmp_path))
    assert cosine > 0.999
    assert spread == pytest.approx(1.0, abs=0.01)


def test_the_asymmetric_variant_leaves_the_teacher(tmp_path):
    cosine, spread = _aligned_cosine_and_spread_ratio(*_train_from_teacher(tmp_path, sd_student_temperature=0.07))
    assert spread > 1.2  # its optimum: gaps tau_S / tau_T = 1.4x the teacher's
    assert cosine < 0.999
