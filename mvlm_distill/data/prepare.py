"""Bring one configured benchmark into the project's format (docs/formats.md)."""

from __future__ import annotations

from pathlib import Path

#: a synthetic benchmark's config keys besides ``kind`` (``generate_benchmark``'s arguments)
SYNTHETIC_KEYS = ("seed", "n_images", "paraphrases", "image_size", "languages")
#: the config keys passed on to a dataset adapter's ``prepare()`` (``images`` as ``images_dir``)
ADAPTER_ARGUMENTS = ("languages", "max_images", "images", "split")
#: a dataset benchmark's config keys besides ``kind``
ADAPTER_KEYS = ("source", "download", "options", "hf", *ADAPTER_ARGUMENTS)


def prepare_benchmark(name: str, spec: dict, out_dir: str | Path, data_root: str | Path = "data") -> dict:
    """Generate the synthetic benchmark or run a dataset adapter; returns meta."""
    out_dir = Path(out_dir)
    kind = spec["kind"]
    if kind == "synthetic":
        from mvlm_distill.data.synthetic import generate_benchmark

        kwargs = {k: spec[k] for k in SYNTHETIC_KEYS if k in spec}
        return generate_benchmark(out_dir, **kwargs)
    from mvlm_distill.data import adapters

    if kind not in adapters.ADAPTERS:
        raise ValueError(f"benchmarks.{name}.kind: no adapter for {kind!r}; allowed: {', '.join(adapters.ADAPTERS)}.")
    adapter = adapters.ADAPTERS[kind]
    kwargs = {k: spec[k] for k in ADAPTER_ARGUMENTS if k in spec}
    kwargs.update(spec.get("options", {}))
    if spec.get("source") == "hf":  # the pinned Hugging Face copy, from the local cache
        from mvlm_distill.data.adapters import hub

        hf = hub.check_spec(kind, spec.get("hf"), f"benchmarks.{name}")
        if spec.get("download"):
            hub.download(hf)
        kwargs.pop("images", None)  # the images are in the Parquet files
        return hub.prepare(kind, hf, out_dir, **kwargs)
    source = spec.get("source") or str(Path(data_root) / name)
    if spec.get("download") and not Path(source).exists():
        source = adapter.download(Path(data_root) / name)
    elif not Path(source).exists():
        from mvlm_distill.config import missing_source

        raise FileNotFoundError(missing_source(name, source))
    if "images" in kwargs:
        kwargs["images_dir"] = kwargs.pop("images")
    return adapter.prepare(source, out_dir, **kwargs)
