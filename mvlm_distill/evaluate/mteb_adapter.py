"""Any pipeline model (a teacher, ``init``, a student) as an mteb encoder, for MIEB's image-text
retrieval tasks (``XM3600T2IRetrieval``/``I2T``, ``XFlickr30kCoT2IRetrieval``/``I2T``,
``Multi30kT2IRetrieval``/``I2T``).

Texts go through the model's own tokenizer and text normalisation (``model.tokenize``, as the
pipeline's embeddings); images through its own preprocessing. mteb hands a multilingual task its
image gallery once per language (XM3600: 3,600 images x 36 languages); the encoder keeps each
image's embedding by content, so every image is encoded once per model. Similarity is the cosine.

mteb is a test-only / optional dependency (requirements-test.txt): imported here only.
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch
from mteb.models.abs_encoder import AbsEncoder
from mteb.models.model_meta import ModelMeta, ScoringFunction


def _image_key(image) -> bytes:
    image = image.convert("RGB")
    return hashlib.sha1(f"{image.size}".encode() + image.tobytes()).digest()


class PipelineEncoder(AbsEncoder):
    """``model``: a loaded ``VisionLanguageModel`` (``mvlm_distill.models.load_model``, or a row's model
    from ``mvlm_distill.rows.load_row_model``); ``name``: how mteb's result files name it."""

    def __init__(self, model, name: str, revision: str = "local", batch_size: int = 64):
        self.model = model.eval()
        self.batch_size = batch_size
        self.images: dict[bytes, np.ndarray] = {}
        self.image_encodings = 0  # images actually encoded (the rest came from self.images)
        self.mteb_model_meta = ModelMeta.create_empty({
            "name": name, "revision": revision, "modalities": ["text", "image"],
            "similarity_fn_name": ScoringFunction.COSINE, "framework": ["PyTorch"],
        })

    def encode(self, inputs, *, task_metadata, hf_split, hf_subset, prompt_type=None, **kwargs):
        columns = inputs.dataset.column_names
        if "image" in columns and "text" in columns:
            raise ValueError(f"{task_metadata.name}: fused text-image inputs are not supported")
        if "text" in columns:  # all at once: each distinct text encoded once, as the pipeline does
            return self._texts([t for batch in inputs for t in batch["text"]])
        return np.concatenate([self._images(batch["image"]) for batch in inputs])

    def _texts(self, texts) -> np.ndarray:
        from mvlm_distill.distill.encode import encode_texts

        return encode_texts(self.model, list(texts), self.batch_size, self.model.device)

    def _images(self, images) -> np.ndarray:
        keys = [_image_key(im) for im in images]
        new = {k: im for k, im in zip(keys, images) if k not in self.images}
        if new:
            with torch.inference_mode():
                pixels = self.model.preprocess([im.convert("RGB") for im in new.values()])
                emb = self.model.encode_image(pixels).float().cpu().numpy()
            self.images.update(zip(new, emb))
            self.image_encodings += len(new)
        return np.stack([self.images[k] for k in keys])

    def similarity(self, embeddings1, embeddings2):
        a = torch.nn.functional.normalize(torch.as_tensor(np.asarray(embeddings1), dtype=torch.float32), dim=-1)
        b = torch.nn.functional.normalize(torch.as_tensor(np.asarray(embeddings2), dtype=torch.float32), dim=-1)
        return a @ b.T


def run_tasks(encoder: PipelineEncoder, datasets: dict[str, str], languages, results_dir, batch_size: int = 64):
    """mteb.evaluate of ``encoder`` on each named task (``datasets``: task name -> the local folder of its
    dataset, fetched at the revision mteb pins) in the given languages the task offers; mteb's result
    files go to ``results_dir`` (mteb's cache layout: ``results/<model>/<revision>/<task>.json``).
    Returns the scores (``mteb_tasks.MTEB_METRICS``) as rows: mteb_task, task, language, metric, value,
    dataset, dataset_revision, mteb_version."""
    import mteb
    from mteb.cache import ResultCache

    from mvlm_distill.evaluate.mteb_tasks import MTEB_METRICS, MTEB_TASKS

    rows = []
    for name, folder in datasets.items():
        offered = list(mteb.get_task(name).hf_subsets)
        subsets = [language for language in languages if language in offered]
        if not subsets:
            raise ValueError(f"mteb task {name} offers none of the languages {list(languages)} "
                             f"(it offers {', '.join(offered)})")
        task = mteb.get_task(name, hf_subsets=subsets)
        pinned = task.metadata.dataset["revision"]
        # the fetched snapshot, read offline; the result files still name the revision mteb pins
        task.metadata = task.metadata.model_copy(update={"dataset": {"path": str(folder), "revision": pinned}})
        result = mteb.evaluate(encoder, task, cache=ResultCache(results_dir), overwrite_strategy="always",
                               show_progress_bar=False, encode_kwargs={"batch_size": batch_size})
        (task_result,) = result.task_results
        for scores in task_result.scores.values():
            for score in scores:
                rows += [{"mteb_task": name, "task": MTEB_TASKS[name]["task"], "language": score["hf_subset"],
                          "metric": metric, "value": float(score[metric]), "dataset": MTEB_TASKS[name]["dataset"],
                          "dataset_revision": task_result.dataset_revision, "mteb_version": task_result.mteb_version}
                         for metric in MTEB_METRICS if metric in score]
    return rows


__all__ = ["PipelineEncoder", "run_tasks"]
