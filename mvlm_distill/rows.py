"""Which model a result row is: the teacher, ``init`` (the student before KD) or a distilled student."""

from __future__ import annotations

from pathlib import Path

from mvlm_distill.definitions import REFERENCES


def load_teacher(spec: dict, teacher_dir: str | Path | None = None, device="cpu"):
    """Toy teachers were pretrained by the workflow into ``teacher_dir``; real ones load by name or path."""
    from mvlm_distill.models import load_model

    if spec["source"] == "toy":
        if teacher_dir is None:
            raise ValueError(f"models.{spec['name']}: a toy teacher needs its pretrained directory.")
        return load_model({"source": "saved", "path": str(teacher_dir)}, device=device)
    return load_model(spec, device=device)


def load_row_model(spec: dict, method: str, source_dir: str | Path | None, device="cpu"):
    """The text encoder evaluated in a row of metrics.csv."""
    from mvlm_distill.models import build_student, load_model

    if method == "teacher":
        return load_teacher(spec, source_dir, device)
    if method == "init":
        return build_student(load_teacher(spec, source_dir, device), spec["student_layers"])
    return load_model({"source": "saved", "path": str(source_dir)}, device=device)


def row_provenance(model, name: str, method: str = "teacher", seed=None) -> dict:
    """The provenance fields (``mvlm_distill.io.SOURCES``) of what ``model`` computes for a result row:
    its own fingerprint, the teacher the row belongs to, and a name for messages."""
    fingerprint = model.fingerprint()
    teacher = fingerprint if method == "teacher" else model.meta.get("teacher_fingerprint")
    label = f"{name} {method}" if method in REFERENCES else f"{name} {method} seed{seed}"
    return {"fingerprint": fingerprint, "teacher_fingerprint": teacher, "model": label}
