"""The distillation loop: cached teacher outputs in, a student text tower out.

Resumable: the full training state is saved every ``checkpoint_every`` steps and
when SLURM signals a coming time limit or preemption (SIGTERM/SIGUSR1), in a
folder that is not a declared workflow output (Snakemake deletes those when a
job fails). One checkpoint is one file (weights, optimiser, schedule, RNG and the
loss log up to its step), renamed into place, so a kill at any moment leaves
either the previous checkpoint or the new one, never a state without its log.
A checkpoint also records what determines its result (the rule's params, the
seed, the teacher's fingerprint, the corpus checksums: ``identity``); one made
under any other identity is discarded with a log line, never continued.
The batch and the learning rate of step t are pure functions of (seed, t), so a
resumed run sees the same data at the same rate as an uninterrupted one. The
optimiser and schedule are pretraining's (``mvlm_distill.optim``).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import signal
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mvlm_distill.distill.losses import DistillBatch, WeightedLoss
from mvlm_distill.io import TEMP_MARK, atomic_path
from mvlm_distill.optim import adamw, apply_schedule
from mvlm_distill.progress import PROGRESS_SECONDS


class Interrupted(SystemExit):
    """Raised after the state was saved because the job was asked to stop."""


@dataclass
class TrainingCorpus:
    """Everything a distillation step needs, precomputed once per teacher and corpus."""

    item_ids: list[str]  # caption ids of the training items (caption x in language l)
    input_ids: torch.Tensor  # (N, L) tokens of x
    attention_mask: torch.Tensor
    english_input_ids: torch.Tensor  # (N, L) tokens of the parallel English caption e
    english_attention_mask: torch.Tensor
    teacher_text: torch.Tensor  # (N, D) T(x)
    teacher_english: torch.Tensor  # (N, D) T(e)
    image: torch.Tensor  # (N, D) V(I) of the item's image

    def __len__(self) -> int:
        return len(self.item_ids)


@dataclass
class TrainingSettings:
    steps: int
    batch_size: int
    lr: float
    warmup_steps: int = 0  # Copied from workflow/schemas/config.schema.yaml: distillation.warmup_steps
    weight_decay: float = 0.01  # Copied from workflow/schemas/config.schema.yaml: distillation.weight_decay
    grad_clip: float = 1.0  # Copied from workflow/schemas/config.schema.yaml: distillation.grad_clip
    checkpoint_every: int = 50  # Copied from workflow/schemas/config.schema.yaml: distillation.checkpoint_every
    seed: int = 0

    @classmethod
    def from_config(cls, distillation: dict, seed: int = 0, **overrides) -> "TrainingSettings":
        """The settings of a study config's ``distillation`` block (an absent key: the field's default,
        a marked copy of the schema's); ``overrides`` replace single fields (benchmarks, sweeps)."""
        values = {f.name: distillation[f.name] if f.default is dataclasses.MISSING else distillation.get(f.name, f.default)
                  for f in dataclasses.fields(cls) if f.name != "seed"}
        values["seed"] = seed
        return cls(**{**values, **overrides})


def batch_indices(n_items: int, batch_size: int, seed: int, step: int) -> np.ndarray:
    """Indices of step ``step``: epochs are seeded permutations, so a resume needs only the step."""
    batch_size = min(batch_size, n_items)
    start = step * batch_size
    out = []
    while len(out) < batch_size:
        epoch, offset = divmod(start, n_items)
        order = np.random.default_rng([seed, epoch]).permutation(n_items)
        take = order[offset : offset + batch_size - len(out)]
        out.extend(take.tolist())
        start += len(take)
    return np.asarray(out)


class _StopRequest:
    """Turns SIGTERM/SIGUSR1 into a flag the loop checks between steps."""

    def __init__(self):
        self.signum = None
        self._previous = {}

    def __enter__(self):
        for sig in (signal.SIGTERM, signal.SIGUSR1):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        self.signum = signum

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _identity_json(identity: dict) -> str:
    return json.dumps(identity, sort_keys=True, default=str)


def _save_state(path: Path, step: int, student, optimizer, log_rows: list[dict], identity: dict) -> None:
    state = {
        "step": torch.tensor(step),
        "identity": _identity_json(identity),
        "loss_log": log_rows,
        "student": student.text_encoder.state_dict(),
        "optimizer": optimizer.state_dict(),
        "torch_rng": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda_rng"] = torch.cuda.get_rng_state_all()
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def identity_changes(saved: dict, current: dict, prefix: str = "") -> list[str]:
    """``key: old -> new`` for each leaf that differs between two identities (dotted key paths)."""
    changes = []
    for key in sorted(set(saved) | set(current), key=str):
        name = f"{prefix}{key}"
        old, new = saved.get(key, "(absent)"), current.get(key, "(absent)")
        if isinstance(old, dict) and isinstance(new, dict):
            changes += identity_changes(old, new, f"{name}.")
        elif old != new:
            changes.append(f"{name}: {old} -> {new}")
    return changes


def _load_state(path: Path, student, optimizer, identity: dict) -> tuple[int, list[dict]] | None:
    """Restore a checkpoint in place; returns its step and the loss log up to that step, or None
    (after a log line saying why) when it was made under another identity and must not be continued."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise RuntimeError(f"{path}: the training checkpoint does not load ({exc}); delete it to restart this student.") from exc
    saved = state.get("identity")
    # round-trip through JSON so tuples/lists and numbers compare as the file stores them
    current = json.loads(_identity_json(identity))
    changes = (["the checkpoint records no settings (written by an earlier version)"] if saved is None
               else identity_changes(json.loads(saved), current))
    if changes:
        shown = "; ".join(changes[:6]) + (f"; and {len(changes) - 6} more" if len(changes) > 6 else "")
        print(f"Discarded the resume state {path} of step {int(state['step'])}: it was made under other "
              f"settings ({shown}); training this student from step 0.", flush=True)
        return None
    step = int(state["step"])
    log_rows = state.get("loss_log")
    if log_rows is None or len(log_rows) != step or (log_rows and log_rows[-1]["step"] != step):
        raise RuntimeError(f"{path}: the checkpoint of step {step} lacks its loss log; delete it to restart this student.")
    try:
        student.text_encoder.load_state_dict(state["student"])
        optimizer.load_state_dict(state["optimizer"])
    except (KeyError, RuntimeError, ValueError) as exc:
        raise RuntimeError(f"{path}: the training checkpoint does not fit this student or optimiser ({exc}); "
                           f"delete it to restart this student.") from exc
    torch.set_rng_state(state["torch_rng"])
    if "cuda_rng" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    return step, log_rows


def _non_finite_error(step: int, names: list[str], values: list[float], item_ids) -> FloatingPointError | None:
    """The error for the first non-finite value of a step (loss terms first, then the gradient norm), or None.

    ``values`` are the step's host-side numbers in the order of ``names``; the message (and the
    batch's item ids, which ``item_ids()`` returns) is built only on failure.
    """
    for name, value in zip(names, values):
        if not math.isfinite(value):
            ids = item_ids()
            shown = ", ".join(ids[:4]) + (", ..." if len(ids) > 4 else "")
            return FloatingPointError(
                f"step {step}: loss term {name} is {value} on the batch with items [{shown}]; "
                "the student was not saved."
            )
    return None


def distill(
    student,
    corpus: TrainingCorpus,
    loss_fn: WeightedLoss,
    settings: TrainingSettings,
    *,
    logit_scale: float,
    logit_bias: float | None,
    family: str,
    state_dir: str | os.PathLike,
    log_path: str | os.PathLike,
    identity: dict | None = None,
    device: str | torch.device = "cpu",
    progress: bool = True,
    stop_after: int | None = None,
):
    """Train ``student``'s text tower in place; returns the loss log as a list of dicts.

    A checkpoint in ``state_dir`` is resumed only if it was saved under the same identity: the
    settings (all but ``checkpoint_every``), the loss weights, the logit scale, bias and family, and
    whatever the caller adds in ``identity`` (JSON-serialisable: the rule's params, the teacher's
    fingerprint, the corpus checksums). ``stop_after`` ends the run
    early after saving state (used by tests to simulate preemption).
    """
    device = torch.device(device)
    torch.manual_seed(settings.seed)
    student.to(device)
    student.train()
    params = [p for p in student.text_parameters() if p.requires_grad]
    # foreach: one multi-tensor kernel per update op instead of one per parameter (same numbers)
    optimizer = adamw(student.text_encoder.named_parameters(), settings.lr, settings.weight_decay, foreach=True)

    training = {k: v for k, v in dataclasses.asdict(settings).items() if k != "checkpoint_every"}
    identity = {"training": training, "loss_weights": loss_fn.weights, "logit_scale": logit_scale,
                "logit_bias": logit_bias, "family": family, **(identity or {})}
    state_dir = Path(state_dir)
    state_path = state_dir / "state.pt"
    log_rows: list[dict] = []
    start = 0
    for leftover in state_dir.glob(f".{state_path.name}{TEMP_MARK}-*"):
        leftover.unlink()  # a checkpoint write cut short by a kill; the previous checkpoint stands
    if state_path.exists():
        restored = _load_state(state_path, student, optimizer, identity)
        if restored is None:
            state_path.unlink()
        else:
            start, log_rows = restored
            print(f"Resumed from the checkpoint of step {start} ({state_path}).", flush=True)

    autocast = (
        torch.autocast(device_type="cuda", dtype=torch.bfloat16)
        if device.type == "cuda"
        else torch.autocast(device_type="cpu", enabled=False)
    )
    if settings.batch_size > len(corpus):  # batch_indices takes the whole corpus: say so where it happens
        print(f"Warning: distillation.batch_size: {settings.batch_size} is more than the {len(corpus)} items of the "
              f"corpus, so every batch is the whole corpus ({len(corpus)}).", flush=True)
    needs_english = loss_fn.needs_student_english
    bar = _progress(range(start, settings.steps), settings.steps, start, progress)

    def save(step):
        _save_state(state_path, step, student, optimizer, log_rows, identity)

    with _StopRequest() as stop:
        for step in bar:
            idx = torch.as_tensor(batch_indices(len(corpus), settings.batch_size, settings.seed, step))
            with autocast:
                tokens = {"input_ids": corpus.input_ids[idx].to(device), "attention_mask": corpus.attention_mask[idx].to(device)}
                student_text = student.encode_text(tokens)
                student_english = None
                if needs_english:
                    en_tokens = {
                        "input_ids": corpus.english_input_ids[idx].to(device),
                        "attention_mask": corpus.english_attention_mask[idx].to(device),
                    }
                    student_english = student.encode_text(en_tokens)
                batch = DistillBatch(
                    student_text=student_text.float(),
                    teacher_text=corpus.teacher_text[idx].to(device),
                    teacher_english=corpus.teacher_english[idx].to(device),
                    image=corpus.image[idx].to(device),
                    logit_scale=logit_scale,
                    logit_bias=logit_bias,
                    family=family,
                    student_english=None if student_english is None else student_english.float(),
                )
                terms = loss_fn(batch)
            optimizer.zero_grad(set_to_none=True)
            terms["total"].backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(params, settings.grad_clip)
            # one device->host transfer per step for the non-finite guard and the loss log
            # (instead of one per term plus one for the gradient norm); checked before the update
            names = list(terms)
            values = torch.stack([v.detach().reshape(()).double() for v in terms.values()]
                                 + [grad_norm.detach().reshape(()).double()]).tolist()
            error = _non_finite_error(step, names + ["gradient norm"], values,
                                      lambda: [corpus.item_ids[i] for i in idx.tolist()])
            if error is not None:
                raise error
            lr = apply_schedule(optimizer, step, settings.steps, settings.lr, settings.warmup_steps)
            optimizer.step()
            row = {"step": step + 1, "lr": lr, **dict(zip(names, values))}
            log_rows.append(row)
            if hasattr(bar, "set_postfix"):  # shown at the bar's next refresh, not forcing one
                bar.set_postfix(loss=f"{row['total']:.4f}", refresh=False)
            done = step + 1
            if stop.signum is not None or (stop_after is not None and done >= stop_after):
                save(done)
                raise Interrupted(128 + (stop.signum or 0) if stop.signum else 3)
            if done % settings.checkpoint_every == 0 and done < settings.steps:
                save(done)
    student.eval()
    _write_log(log_path, log_rows)
    return log_rows


def _progress(iterable, total, initial, enabled):
    if not enabled:
        return iterable
    from tqdm import tqdm

    # a line at most every PROGRESS_SECONDS (a job's log is a file: every refresh is a line in it)
    return tqdm(iterable, total=total, initial=initial, desc="distill", mininterval=PROGRESS_SECONDS,
                maxinterval=PROGRESS_SECONDS)


def _write_log(path, rows: list[dict]) -> None:
    if not rows:
        return
    fields = list(rows[0].keys())
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)


def load_training_corpus(items_path, teacher_text_path, tokens_path, images_path, fingerprint: str) -> TrainingCorpus:
    """Assemble the per-item tensors from the caches; refuses caches made by another teacher, from
    another benchmark, or for another corpus selection than ``items_path``."""
    import json

    import pandas as pd

    from mvlm_distill.io import CacheMismatchError, check_same_source, file_checksum, load_embeddings

    items = pd.read_csv(items_path, dtype=str, keep_default_na=False)
    text, text_ids, text_meta = load_embeddings(teacher_text_path, expect={"fingerprint": fingerprint})
    image, image_ids, image_meta = load_embeddings(images_path, expect={"fingerprint": fingerprint})
    check_same_source("checksum", teacher_text_path, text_meta, images_path, image_meta)
    if text_meta.get("corpus_checksum") not in (None, file_checksum(items_path)):
        raise CacheMismatchError(f"{teacher_text_path}: made for another selection than {items_path} (the corpus "
                                 f"changed since); rebuild it (snakemake --forcerun cache_teacher_text)")
    with np.load(tokens_path, allow_pickle=False) as z:
        token_ids = z["ids"].tolist()
        input_ids, attention_mask = z["input_ids"], z["attention_mask"]
        token_meta = json.loads(str(z["meta"])) if "meta" in z.files else None
    if token_meta is not None and token_meta.get("fingerprint") != text_meta.get("fingerprint"):
        raise CacheMismatchError(f"{tokens_path}: tokenised by another teacher than {teacher_text_path}; "
                                 f"delete both to rebuild")
    if token_ids != text_ids:
        raise CacheMismatchError(f"{tokens_path}: token ids do not match {teacher_text_path}; delete both to rebuild")
    row = {cid: i for i, cid in enumerate(text_ids)}
    image_row = {iid: i for i, iid in enumerate(image_ids)}
    missing = sorted(set(items["image_id"]) - set(image_row))
    if missing:
        raise CacheMismatchError(f"{images_path}: no embedding for image {missing[0]!r} of {items_path}")
    x = np.array([row[c] for c in items["caption_id"]])
    e = np.array([row[c] for c in items["english_caption_id"]])
    im = np.array([image_row[i] for i in items["image_id"]])
    as_t = torch.from_numpy
    return TrainingCorpus(
        item_ids=items["caption_id"].tolist(),
        input_ids=as_t(input_ids[x]).long(),
        attention_mask=as_t(attention_mask[x]).long(),
        english_input_ids=as_t(input_ids[e]).long(),
        english_attention_mask=as_t(attention_mask[e]).long(),
        teacher_text=as_t(text[x]),
        teacher_english=as_t(text[e]),
        image=as_t(image[im]),
    )


def corpus_in_memory(teacher, bench, items, batch_size: int = 256) -> TrainingCorpus:
    """The same tensors as the workflow's caches, computed in this process (quickstart, tests)."""
    from mvlm_distill.distill.encode import encode_images, encode_tokens, tokenize_texts

    text = bench.captions.set_index("caption_id")["text"]
    tok_x = tokenize_texts(teacher, text.loc[items["caption_id"]].tolist())
    tok_e = tokenize_texts(teacher, text.loc[items["english_caption_id"]].tolist())
    images = encode_images(teacher, [bench.image_path(i) for i in items["image_id"]], batch_size)
    return TrainingCorpus(
        item_ids=items["caption_id"].tolist(),
        input_ids=tok_x["input_ids"],
        attention_mask=tok_x["attention_mask"],
        english_input_ids=tok_e["input_ids"],
        english_attention_mask=tok_e["attention_mask"],
        teacher_text=torch.from_numpy(encode_tokens(teacher, tok_x, batch_size, "cpu")),
        teacher_english=torch.from_numpy(encode_tokens(teacher, tok_e, batch_size, "cpu")),
        image=torch.from_numpy(images),
    )
