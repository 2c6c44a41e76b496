"""One adapter per public dataset: the published release on disk -> the benchmark format.

Every adapter module offers

- ``prepare(source, out_dir, *, languages=None, split=..., images_dir=None, max_images=None, ...) -> meta``:
  reads a local copy of the release at ``source`` exactly as published and writes
  ``out_dir`` with :func:`mvlm_distill.data.formats.write_benchmark`;
- ``download(dest, ...)``: fetches the release from its official URLs (only when called;
  never in tests) into the layout ``prepare`` reads;
- ``LANGUAGES`` (project codes, see :mod:`mvlm_distill.data.languages`) and ``HOMEPAGE``;
- optionally ``SPLITS`` (the release's split names) and ``benchmark_split(split)`` (the benchmark
  split a release split is written as; without it the name is written as given).

``docs/datasets.md`` describes each release, its licence and the disk it needs.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from types import ModuleType
from typing import Callable

from mvlm_distill.data.adapters import coco35l, maxm, multi30k, xflickrco, xgqa, xm3600


@dataclass(frozen=True)
class Adapter:
    name: str
    kind: str  # "retrieval" (captions), "vqa" or "corpus" (training captions)
    module: ModuleType

    @property
    def prepare(self) -> Callable[..., dict]:
        return self.module.prepare

    @property
    def download(self) -> Callable:
        return self.module.download

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self.module.LANGUAGES)

    @property
    def homepage(self) -> str:
        return self.module.HOMEPAGE

    @property
    def release_splits(self) -> tuple[str, ...] | None:
        """The release's split names ``prepare`` accepts (None when the release is open-ended)."""
        return tuple(self.module.SPLITS) if hasattr(self.module, "SPLITS") else None

    def benchmark_split(self, split: str | None = None) -> str:
        """The benchmark split that preparing release split ``split`` writes (None: prepare's default)."""
        if split is None:
            split = inspect.signature(self.module.prepare).parameters["split"].default
        to_benchmark = getattr(self.module, "benchmark_split", None)  # else the split name is written as given
        return to_benchmark(split) if to_benchmark else split


ADAPTERS: dict[str, Adapter] = {
    "xm3600": Adapter("xm3600", "retrieval", xm3600),
    "multi30k": Adapter("multi30k", "retrieval", multi30k),
    "xflickrco": Adapter("xflickrco", "retrieval", xflickrco),
    "coco35l": Adapter("coco35l", "corpus", coco35l),
    "xgqa": Adapter("xgqa", "vqa", xgqa),
    "maxm": Adapter("maxm", "vqa", maxm),
}


def get_adapter(name: str) -> Adapter:
    """The adapter registered under ``name``; a ValueError lists the known ones otherwise."""
    try:
        return ADAPTERS[name]
    except KeyError:
        raise ValueError(
            f"Unknown dataset adapter {name!r}; allowed values are: {', '.join(sorted(ADAPTERS))}."
        ) from None


def prepare(name: str, source, out_dir, **options) -> dict:
    """``get_adapter(name).prepare(source, out_dir, **options)``."""
    return get_adapter(name).prepare(source, out_dir, **options)


__all__ = ["ADAPTERS", "Adapter", "get_adapter", "prepare"]
