"""Models: one loader for every source, tiny teachers of both families, students, teacher pretraining.

Public API (imported lazily: ``import mvlm_distill.models`` itself does not import torch)::

    VisionLanguageModel                    the uniform interface (base.py)
    load_model(spec, device="cpu")         saved | toy | open_clip | hf  (loader.py)
    save_model(model, directory)           library-native files + mvlm_model.json
    build_student(teacher, layer_map)      keeps the listed text layers (student.py)
    default_layer_map(n_layers)            every other layer: [0, 2] of 4
    build_toy_teacher(family, tokenizer_dir, size_config, seed)   (toy.py; DEFAULT_SIZE)
    build_toy_tokenizer(texts, pieces, out_dir)                   (tokenizer.py)
    pretrain_teacher(model, images, pairs, *, steps, batch_size, lr, seed, log_path=None, progress=True)
    pretrain_toy_teacher(family, bench, pairs, work, *, size, steps, batch_size, lr, seed, ...)
                                           tokenizer + toy teacher + pretraining: every toy teacher's setup
    ModelLoadError
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "VisionLanguageModel": "base",
    "ModelLoadError": "base",
    "FAMILIES": "base",
    "MANIFEST": "base",
    "load_model": "loader",
    "save_model": "loader",
    "read_manifest": "loader",
    "build_student": "student",
    "default_layer_map": "student",
    "build_toy_teacher": "toy",
    "DEFAULT_SIZE": "toy",
    "build_toy_tokenizer": "tokenizer",
    "pretrain_teacher": "pretrain",
    "pretrain_toy_teacher": "pretrain",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
