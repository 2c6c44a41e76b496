"""A benchmark in the project's format as a local task in mteb's format (a copy of mteb's Hub dataset),
for the tests that run mteb offline: the parity test and the mteb rule's end-to-end test."""

from __future__ import annotations


def write_mteb_xm3600(bench, folder, languages):
    """The benchmark as a local copy of mteb's ``mteb/xm3600`` dataset: one split per language, one row
    per image (``image``, ``image_id``, ``captions`` and the dataset's other columns)."""
    import datasets

    (folder / "data").mkdir(parents=True)
    gallery = bench.split_images("test")
    for language in languages:
        captions = bench.split_captions("test", language)
        rows = {"image": [], "image_id": [], "captions": [], "captions_tokenized": [],
                "captions_tokenized_lowercase": [], "image_locale": []}
        for image_id in gallery["image_id"]:
            texts = captions.loc[captions.image_id == image_id, "text"].tolist()
            rows["image"].append(str(bench.image_path(image_id)))
            rows["image_id"].append(image_id)
            rows["captions"].append(texts)
            rows["captions_tokenized"].append(texts)
            rows["captions_tokenized_lowercase"].append([t.lower() for t in texts])
            rows["image_locale"].append(language)
        table = datasets.Dataset.from_dict(rows).cast_column("image", datasets.Image())
        table.to_parquet(str(folder / "data" / f"{language}-00000-of-00001.parquet"))
