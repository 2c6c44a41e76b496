"""The student builder: a copy of the teacher that keeps some of its text layers.

The student shares the teacher's image tower (the same module, frozen) and copies the
token/position embeddings, the kept transformer blocks, the final norm, the pooler and
the projection, and the logit scale/bias. Its library config says how many text layers
it has (open_clip: the HF text config of ``text_config/``; transformers:
``text_config.num_hidden_layers``), so it saves and loads with ``save_model``/``load_model``.
"""

from __future__ import annotations

import copy

from mvlm_distill.definitions import default_layer_map

from .base import VisionLanguageModel


def check_layer_map(layer_map, n_layers: int) -> list[int]:
    try:
        layers = [int(i) for i in layer_map]
    except (TypeError, ValueError):
        raise ValueError(f"layer_map {layer_map!r} must be a list of layer indices in 0..{n_layers - 1}") from None
    if any(float(a) != b for a, b in zip(layer_map, layers)):
        raise ValueError(f"layer_map {list(layer_map)!r} must hold whole layer indices in 0..{n_layers - 1}")
    if not layers:
        raise ValueError(f"layer_map is empty; give layer indices in 0..{n_layers - 1}")
    bad = [i for i in layers if not 0 <= i < n_layers]
    if bad:
        raise ValueError(f"layer_map {layers} has indices {bad} outside the allowed range 0..{n_layers - 1} "
                         f"(the teacher has {n_layers} text layers)")
    if len(set(layers)) != len(layers):
        raise ValueError(f"layer_map {layers} repeats a layer; each of 0..{n_layers - 1} may be kept once")
    return layers


def build_student(teacher: VisionLanguageModel, layer_map: list[int] | None = None) -> VisionLanguageModel:
    """A student with the teacher's text layers ``layer_map`` (default: every other layer)."""
    n = teacher.text_layer_count()
    layers = check_layer_map(default_layer_map(n) if layer_map is None else layer_map, n)
    image_tower = teacher.image_tower()
    # deepcopy everything but the image tower, which the student shares with the teacher
    memo = {id(image_tower): image_tower}
    for module in image_tower.modules():
        memo[id(module)] = module
    for p in image_tower.parameters():
        memo[id(p)] = p
    for b in image_tower.buffers():
        memo[id(b)] = b
    student = copy.deepcopy(teacher, memo)
    kept = [student.text_layers()[i] for i in layers]
    student.set_text_layers(kept)
    student.freeze_image_tower()
    student.meta = dict(teacher.meta)
    student.meta.update({
        "role": "student",
        "layer_map": layers,
        "teacher_name": teacher.meta.get("name"),
        "teacher_fingerprint": teacher.fingerprint(),
        "teacher_text_layers": n,
    })
    return student.eval()
