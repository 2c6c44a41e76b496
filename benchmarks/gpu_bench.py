"""GPU check: distillation throughput and peak memory of the real-size students (issue 7, item 4).

    benchmarks/gpu.sh                                   # on a GPU machine; < 5 minutes
    benchmarks/gpu.sh --device cpu --batch 8 --steps 2 --vocab 8000 --context 16 --embed-batch 16 --out /tmp/gpu-check.csv
                                                        # check that it runs, anywhere (minutes)

Random weights, built from the real architectures' configs without downloading anything:

* ``clip``: the text tower of open_clip's ``xlm-roberta-base-ViT-B-32``: an ``HFTextEncoder`` over
  ``XLMRobertaConfig`` (12 layers, width 768, vocabulary 250,002), mean pooler, open_clip's default
  MLP projection to 512; the student keeps 6 layers. Context 77 tokens.
* ``siglip2``: a ``Siglip2TextModel`` from ``Siglip2TextConfig`` defaults (12 layers, width 768,
  projection 768) with the released models' vocabulary of 256,000; the student keeps 6 layers.
  Context 64 tokens.

For each family and each method (FD, ED, SD, MCL, DR, DR+ED) the project's own training loop
(``mvlm_distill.distill.trainer.distill``, bf16 autocast on CUDA) runs ``--steps`` steps at
``--batch`` (default 256) on a random ``TrainingCorpus`` of cached teacher outputs; samples/s and
peak GPU memory are recorded. Then, for DR+ED only:

* ``lean``: the same step without the loop's per-step host synchronisations (finite checks and
  loss logging read values back every step) and with the corpus already on the GPU: what the loop
  costs over the bare step;
* ``online``: the project's loop with the real-size teacher (12-layer text tower; image tower
  ViT-B/32 at 224 px for clip, SigLIP2-base/16 NaFlex with 256 patches for siglip2) run inside
  every step, as the naive online way does: the cached-vs-online ratio at real size;
* ``embed_text`` / ``embed_image``: inference throughput of the student text tower and the
  teacher image tower (``torch.inference_mode``, bf16 autocast, batch ``--embed-batch``).

Writes one CSV (``--out``, default benchmarks/results/gpu.csv). Without a GPU (and without
``--device cpu``) it prints a message and exits 0.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))  # the package from this checkout, installed or not

METHODS = {"FD": {"FD": 1.0}, "ED": {"ED": 1.0}, "SD": {"SD": 1.0}, "MCL": {"MCL": 1.0},
           "DR": {"DR": 1.0}, "DR+ED": {"DR": 1.0, "ED": 1.0}}
TEMPERATURES = {"sd_teacher_temperature": 0.05, "mcl_temperature": 0.05}
ARCH = {
    "clip": {"vocab": 250002, "context": 77, "dim": 512, "pad": 1, "logit_scale": 100.0, "logit_bias": None},
    "siglip2": {"vocab": 256000, "context": 64, "dim": 768, "pad": 0, "logit_scale": 117.0, "logit_bias": -12.0},
}


# --------------------------------------------------------------------------- models

def text_tower(family: str, layers: int, vocab: int):
    """(module taking input_ids -> (B, D) features) of the real-size architecture, random weights."""
    import torch

    if family == "clip":
        from open_clip.hf_model import HFTextEncoder
        from transformers import XLMRobertaConfig

        cfg = XLMRobertaConfig(vocab_size=vocab, max_position_embeddings=514, type_vocab_size=1,
                               num_hidden_layers=layers, pad_token_id=1, bos_token_id=0, eos_token_id=2)
        enc = HFTextEncoder("xlm-roberta-base", output_dim=ARCH["clip"]["dim"], config=cfg,
                            pooler_type="mean_pooler", proj_type="mlp", pretrained=False)
        return enc  # forward(input_ids): mask from the pad id, mean pool, MLP projection

    from transformers import Siglip2TextConfig, Siglip2TextModel

    cfg = Siglip2TextConfig(vocab_size=vocab, num_hidden_layers=layers, pad_token_id=0, bos_token_id=2,
                            eos_token_id=1)

    class _Siglip2Text(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = Siglip2TextModel(cfg)

        def forward(self, input_ids):
            return self.model(input_ids=input_ids).pooler_output

    return _Siglip2Text()


def image_tower(family: str):
    """(module, make_pixels(n, device)) of the teacher's real-size image tower, random weights."""
    import torch

    if family == "clip":
        import open_clip

        model = open_clip.create_model("ViT-B-32", pretrained=None)
        visual = model.visual
        return visual, lambda n, device: torch.randn(n, 3, 224, 224, device=device)

    from transformers import Siglip2VisionConfig, Siglip2VisionModel

    cfg = Siglip2VisionConfig()  # base, patch 16, 256 patches

    class _Siglip2Vision(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = Siglip2VisionModel(cfg)

        def forward(self, pixels):
            return self.model(**pixels).pooler_output

    def make(n, device):
        patches = cfg.num_patches
        return {
            "pixel_values": torch.randn(n, patches, 3 * cfg.patch_size ** 2, device=device),
            "pixel_attention_mask": torch.ones(n, patches, dtype=torch.long, device=device),
            "spatial_shapes": torch.tensor([[16, 16]] * n, dtype=torch.long, device=device),
        }

    return _Siglip2Vision(), make


class Student:
    """The slice of the VisionLanguageModel interface that the trainer uses."""

    def __init__(self, family: str, text_encoder):
        self.family, self.text_encoder = family, text_encoder

    def to(self, device):
        self.text_encoder.to(device)
        return self

    def train(self, mode: bool = True):
        self.text_encoder.train(mode)
        return self

    def eval(self):
        return self.train(False)

    def text_parameters(self):
        return (p for p in self.text_encoder.parameters() if p.requires_grad)

    def encode_text(self, tokens):
        import torch.nn.functional as F

        return F.normalize(self.text_encoder(tokens["input_ids"]), dim=-1)


# --------------------------------------------------------------------------- data

def random_corpus(family: str, n: int, seed: int = 0):
    """A TrainingCorpus of random token ids (lengths 8..context) and random unit teacher outputs."""
    import torch
    import torch.nn.functional as F

    from mvlm_distill.distill.trainer import TrainingCorpus

    a = ARCH[family]
    g = torch.Generator().manual_seed(seed)

    def tokens():
        ids = torch.randint(5, a["vocab"], (n, a["context"]), generator=g)
        lengths = torch.randint(8, a["context"] + 1, (n,), generator=g)
        mask = (torch.arange(a["context"])[None, :] < lengths[:, None]).long()
        return ids * mask + a["pad"] * (1 - mask), mask

    x, xm = tokens()
    e, em = tokens()
    unit = lambda: F.normalize(torch.randn(n, a["dim"], generator=g), dim=-1)  # noqa: E731
    return TrainingCorpus(item_ids=[f"item{i}" for i in range(n)], input_ids=x, attention_mask=xm,
                          english_input_ids=e, english_attention_mask=em, teacher_text=unit(),
                          teacher_english=unit(), image=unit())


class _OnlineText:
    def __init__(self, tower, ids, device):
        self.tower, self.ids, self.device = tower, ids, device

    def __getitem__(self, idx):
        import torch
        import torch.nn.functional as F

        with torch.no_grad():
            return F.normalize(self.tower(self.ids[idx].to(self.device)).float(), dim=-1)


class _OnlineImage:
    def __init__(self, tower, pixels, n_pool):
        self.tower, self.pixels, self.n_pool = tower, pixels, n_pool

    def __getitem__(self, idx):
        import torch
        import torch.nn.functional as F

        rows = (idx % self.n_pool).to(_first_device(self.pixels))
        with torch.no_grad():
            if isinstance(self.pixels, dict):
                batch = {k: v[rows] for k, v in self.pixels.items()}
            else:
                batch = self.pixels[rows]
            return F.normalize(self.tower(batch).float(), dim=-1)


def _first_device(pixels):
    return next(iter(pixels.values())).device if isinstance(pixels, dict) else pixels.device


# --------------------------------------------------------------------------- measurements

def _sync(device):
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _reset_peak(device):
    import torch

    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def _peak_gb(device):
    import torch

    return round(torch.cuda.max_memory_allocated(device) / 2**30, 2) if device.type == "cuda" else ""


def project_loop(student, corpus, family, method, *, batch, steps, device, work: Path):
    """Seconds of ``steps`` steps of the project's trainer (after a warm-up run)."""
    from mvlm_distill.distill.losses import build_loss
    from mvlm_distill.distill.trainer import TrainingSettings, distill

    a = ARCH[family]
    loss_fn = build_loss(METHODS[method], family, **TEMPERATURES).to(device)

    def once(n, tag):
        settings = TrainingSettings(steps=n, batch_size=batch, lr=1e-4, warmup_steps=0,
                                    checkpoint_every=10 * n + 1, seed=0)
        d = Path(tempfile.mkdtemp(prefix=f"{tag}-", dir=work))
        _sync(device)
        start = time.perf_counter()
        distill(student, corpus, loss_fn, settings, logit_scale=a["logit_scale"], logit_bias=a["logit_bias"],
                family=family, state_dir=d / "state", log_path=d / "loss_log.csv", device=device, progress=False)
        _sync(device)
        return time.perf_counter() - start

    once(min(3, steps), "warm")
    _reset_peak(device)
    return once(steps, "run")


def lean_loop(student, corpus, family, method, *, batch, steps, device):
    """The same step without host synchronisations, corpus resident on the device."""
    import torch

    from mvlm_distill.distill.losses import DistillBatch, build_loss

    a = ARCH[family]
    loss_fn = build_loss(METHODS[method], family, **TEMPERATURES).to(device)
    dev = {k: getattr(corpus, k).to(device) for k in ("input_ids", "english_input_ids", "teacher_text",
                                                        "teacher_english", "image")}
    student.to(device).train()
    params = list(student.text_parameters())
    opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01)
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda"
                else torch.autocast("cpu", enabled=False))
    n = dev["input_ids"].shape[0]

    def step(i):
        idx = torch.randint(0, n, (batch,), device=device)
        with autocast:
            s = student.encode_text({"input_ids": dev["input_ids"][idx]})
            se = student.encode_text({"input_ids": dev["english_input_ids"][idx]}) \
                if loss_fn.needs_student_english else None
            terms = loss_fn(DistillBatch(student_text=s.float(), teacher_text=dev["teacher_text"][idx],
                                         teacher_english=dev["teacher_english"][idx], image=dev["image"][idx],
                                         logit_scale=a["logit_scale"], logit_bias=a["logit_bias"], family=family,
                                         student_english=None if se is None else se.float()))
        opt.zero_grad(set_to_none=True)
        terms["total"].backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()

    for i in range(min(3, steps)):
        step(i)
    _sync(device)
    _reset_peak(device)
    start = time.perf_counter()
    for i in range(steps):
        step(i)
    _sync(device)
    return time.perf_counter() - start


def embed_throughput(module, make_input, *, batch, reps, device):
    import torch

    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda"
                else torch.autocast("cpu", enabled=False))
    module.to(device).eval()
    x = make_input(batch)
    with torch.inference_mode(), autocast:
        module(x)
        _sync(device)
        _reset_peak(device)
        start = time.perf_counter()
        for _ in range(reps):
            module(x)
        _sync(device)
    return time.perf_counter() - start


# --------------------------------------------------------------------------- main

def machine(device) -> dict:
    import torch

    info = {"nproc": os.cpu_count(), "cpu_model": platform.processor() or platform.machine(),
            "torch": torch.__version__, "device": str(device)}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info["gpu"] = torch.cuda.get_device_name(device) if device.type == "cuda" else ""
    try:
        import subprocess

        info["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                                        text=True, timeout=10).stdout.strip() or "unknown"
    except Exception:  # noqa: BLE001 - no git on the machine
        info["commit"] = "unknown"
    return info


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="real-size student throughput on a GPU")
    ap.add_argument("--device", default="auto", help="auto (cuda if present, else exit), cuda, cuda:N or cpu")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--steps", type=int, default=20, help="measured steps per method")
    ap.add_argument("--embed-batch", type=int, default=512)
    ap.add_argument("--families", default="clip,siglip2")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--items", type=int, default=8192, help="random corpus items")
    ap.add_argument("--no-online", action="store_true", help="skip the online-teacher measurement")
    ap.add_argument("--vocab", type=int, default=None,
                    help="override the vocabulary size (a CPU check: the real 250k/256k embedding matrices make "
                         "each CPU step take many seconds)")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "gpu.csv")
    ap.add_argument("--context", type=int, default=None, help="override the token context (a CPU check)")
    args = ap.parse_args(argv)

    import torch

    if args.device == "auto":
        if not torch.cuda.is_available():
            print("gpu.sh: no CUDA GPU found; nothing measured (use --device cpu to check the script runs).")
            return 0
        args.device = "cuda"
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print(f"gpu.sh: --device {args.device} asked for, but no CUDA GPU is available; nothing measured.")
        return 0
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    else:
        torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    methods = [m for m in args.methods.split(",") if m]
    info = machine(device)
    rows = []
    work = Path(tempfile.mkdtemp(prefix="mvlm-gpu-"))
    t_all = time.perf_counter()

    def record(**row):
        rows.append({**row, **info})
        print({k: v for k, v in row.items()}, flush=True)

    if args.vocab:
        for a in ARCH.values():
            a["vocab"] = args.vocab
        info["vocab_override"] = args.vocab
    if args.context:
        for a in ARCH.values():
            a["context"] = args.context
        info["context_override"] = args.context
    for family in [f for f in args.families.split(",") if f]:
        a = ARCH[family]
        torch.manual_seed(0)
        with torch.device(device):
            student_tower = text_tower(family, 6, a["vocab"])
        student = Student(family, student_tower)
        params = sum(p.numel() for p in student_tower.parameters())
        corpus = random_corpus(family, max(args.items, args.batch))
        for method in methods:
            seconds = project_loop(student, corpus, family, method, batch=args.batch, steps=args.steps,
                                   device=device, work=work)
            record(family=family, variant="cached (project loop)", method=method, batch=args.batch,
                   steps=args.steps, seconds=round(seconds, 3),
                   samples_per_s=round(args.steps * args.batch / seconds, 1),
                   peak_gpu_gb=_peak_gb(device), student_text_params_m=round(params / 1e6, 1))
        if "DR+ED" in methods:
            seconds = lean_loop(student, corpus, family, "DR+ED", batch=args.batch, steps=args.steps, device=device)
            record(family=family, variant="cached (lean loop: no host syncs, corpus on device)", method="DR+ED",
                   batch=args.batch, steps=args.steps, seconds=round(seconds, 3),
                   samples_per_s=round(args.steps * args.batch / seconds, 1), peak_gpu_gb=_peak_gb(device),
                   student_text_params_m=round(params / 1e6, 1))
            if not args.no_online:
                with torch.device(device):
                    teacher_text = text_tower(family, 12, a["vocab"]).eval()
                    vision, make_pixels = image_tower(family)
                vision = vision.to(device).eval()
                pool = min(512, len(corpus))
                pixels = make_pixels(pool, device)
                from mvlm_distill.distill.trainer import TrainingCorpus

                online = TrainingCorpus(
                    item_ids=corpus.item_ids, input_ids=corpus.input_ids, attention_mask=corpus.attention_mask,
                    english_input_ids=corpus.english_input_ids,
                    english_attention_mask=corpus.english_attention_mask,
                    teacher_text=_OnlineText(teacher_text, corpus.input_ids, device),
                    teacher_english=_OnlineText(teacher_text, corpus.english_input_ids, device),
                    image=_OnlineImage(vision, pixels, pool))
                # the views are read inside the loop's autocast block: the teacher runs in bf16 on CUDA
                seconds = project_loop(student, online, family, "DR+ED", batch=args.batch, steps=args.steps,
                                       device=device, work=work)
                record(family=family, variant="online teacher (project loop, teacher text + image towers per step)",
                       method="DR+ED", batch=args.batch, steps=args.steps, seconds=round(seconds, 3),
                       samples_per_s=round(args.steps * args.batch / seconds, 1), peak_gpu_gb=_peak_gb(device),
                       student_text_params_m=round(params / 1e6, 1))
                reps = max(2, args.steps // 2)
                seconds = embed_throughput(vision, lambda n: make_pixels(n, device), batch=args.embed_batch,
                                           reps=reps, device=device)
                record(family=family, variant="embed_image (teacher image tower, inference)", method="",
                       batch=args.embed_batch, steps=reps, seconds=round(seconds, 3),
                       samples_per_s=round(reps * args.embed_batch / seconds, 1), peak_gpu_gb=_peak_gb(device),
                       student_text_params_m="")
                del teacher_text, vision, pixels, online
        reps = max(2, args.steps // 2)
        ids = corpus.input_ids[: args.embed_batch].to(device)
        seconds = embed_throughput(student_tower, lambda n: ids[:n], batch=min(args.embed_batch, len(ids)),
                                   reps=reps, device=device)
        record(family=family, variant="embed_text (student text tower, inference)", method="",
               batch=min(args.embed_batch, len(ids)), steps=reps, seconds=round(seconds, 3),
               samples_per_s=round(reps * min(args.embed_batch, len(ids)) / seconds, 1),
               peak_gpu_gb=_peak_gb(device), student_text_params_m=round(params / 1e6, 1))
        del student, student_tower, corpus
        if device.type == "cuda":
            torch.cuda.empty_cache()

    args.out.parent.mkdir(parents=True, exist_ok=True)
    fields = []
    for row in rows:
        fields += [k for k in row if k not in fields]
    with open(args.out, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {args.out} ({len(rows)} rows) in {time.perf_counter() - t_all:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
