"""Trainer pieces: the data order and the guard against non-finite losses."""

import numpy as np
import pytest
import torch

from mvlm_distill.distill.losses import build_loss
from mvlm_distill.distill.trainer import TrainingCorpus, TrainingSettings, batch_indices, distill


def test_batches_depend_only_on_seed_and_step():
    a = [batch_indices(10, 4, seed=3, step=s) for s in range(6)]
    b = [batch_indices(10, 4, seed=3, step=s) for s in range(6)]
    assert all((x == y).all() for x, y in zip(a, b))
    # each epoch visits every item once
    first_epoch = np.concatenate([batch_indices(12, 4, seed=0, step=s) for s in range(3)])
    assert sorted(first_epoch) == list(range(12))
    assert not (batch_indices(10, 4, seed=4, step=0) == a[0]).all()


class _TinyStudent:
    """A stand-in text encoder: an embedding table indexed by the first token."""

    def __init__(self):
        self.text_encoder = torch.nn.Embedding(16, 8)

    def to(self, device):
        return self

    def train(self, mode=True):
        self.text_encoder.train(mode)

    def eval(self):
        self.text_encoder.eval()

    def text_parameters(self):
        return self.text_encoder.parameters()

    def encode_text(self, tokens):
        return torch.nn.functional.normalize(self.text_encoder(tokens["input_ids"][:, 0]), dim=-1)


def _corpus(n=8, poison=None):
    ids = torch.arange(n).unsqueeze(1) % 16
    emb = torch.nn.functional.normalize(torch.randn(n, 8), dim=-1)
    if poison is not None:
        emb[poison] = float("nan")
    return TrainingCorpus([f"c{i}" for i in range(n)], ids, torch.ones_like(ids), ids, torch.ones_like(ids),
                          emb, emb.clone(), emb.clone())


def test_non_finite_loss_stops_with_step_term_and_batch(tmp_path):
    settings = TrainingSettings(steps=3, batch_size=8, lr=1e-2)
    with pytest.raises(FloatingPointError) as err:
        distill(_TinyStudent(), _corpus(poison=3), build_loss({"FD": 1.0}), settings, logit_scale=10.0,
                logit_bias=None, family="clip", state_dir=tmp_path / "state", log_path=tmp_path / "log.csv",
                progress=False)
    message = str(err.value)
    assert "step 0" in message and "loss term FD" in message and "c" in message
    assert not (tmp_path / "log.csv").exists(), "a broken run must not leave a loss log as if it finished"


def test_short_run_lowers_the_loss(tmp_path):
    torch.manual_seed(0)
    settings = TrainingSettings(steps=30, batch_size=8, lr=5e-2)
    rows = distill(_TinyStudent(), _corpus(), build_loss({"FD": 1.0}), settings, logit_scale=10.0, logit_bias=None,
                   family="clip", state_dir=tmp_path / "state", log_path=tmp_path / "log.csv", progress=False)
    assert rows[-1]["total"] < rows[0]["total"]
    assert (tmp_path / "log.csv").read_text().splitlines()[0] == "step,lr,FD,total"


class _NanGradientStudent(_TinyStudent):
    """Finite outputs, NaN gradients: 0 * sqrt(w - w) is 0 forward, 0 * inf backward."""

    def encode_text(self, tokens):
        emb = self.text_encoder(tokens["input_ids"][:, 0])
        w = self.text_encoder.weight[0, 0]
        return torch.nn.functional.normalize(emb + 0.0 * torch.sqrt(w - w), dim=-1)


def test_non_finite_gradient_stops_before_the_update(tmp_path):
    student = _NanGradientStudent()
    before = student.text_encoder.weight.detach().clone()
    settings = TrainingSettings(steps=3, batch_size=8, lr=1e-2)
    with pytest.raises(FloatingPointError) as err:
        distill(student, _corpus(), build_loss({"FD": 1.0}), settings, logit_scale=10.0, logit_bias=None,
                family="clip", state_dir=tmp_path / "state", log_path=tmp_path / "log.csv", progress=False)
    message = str(err.value)
    assert "step 0" in message and "gradient norm" in message and "c" in message
    assert torch.equal(student.text_encoder.weight.detach(), before), "the non-finite update must not be applied"
    assert not (tmp_path / "log.csv").exists()


def _run(tmp_path, settings, stop_after=None, identity=None, weights=None):
    torch.manual_seed(0)
    return distill(_TinyStudent(), _corpus(), build_loss(weights or {"FD": 1.0}), settings, logit_scale=10.0,
                   logit_bias=None, family="clip", state_dir=tmp_path / "state", log_path=tmp_path / "log.csv",
                   progress=False, stop_after=stop_after, identity=identity)


def _interrupt(tmp_path, settings, **kw):
    from mvlm_distill.distill.trainer import Interrupted

    with pytest.raises(Interrupted):
        _run(tmp_path, settings, **kw)
    assert (tmp_path / "state" / "state.pt").exists()


def test_resume_with_the_same_identity_continues(tmp_path, capsys):
    settings = TrainingSettings(steps=6, batch_size=4, lr=1e-2, checkpoint_every=2)
    _interrupt(tmp_path, settings, stop_after=2, identity={"teacher": "abc"})
    # checkpoint_every only says how often state is saved: changing it must not discard the state
    rows = _run(tmp_path, TrainingSettings(steps=6, batch_size=4, lr=1e-2, checkpoint_every=3),
                identity={"teacher": "abc"})
    assert "Discarded" not in capsys.readouterr().out
    assert [r["step"] for r in rows] == list(range(1, 7))
    clean = _run(tmp_path / "clean", settings, identity={"teacher": "abc"})
    assert [r["total"] for r in rows] == pytest.approx([r["total"] for r in clean], abs=1e-6)


@pytest.mark.parametrize("change, named", [
    ({"settings": TrainingSettings(steps=6, batch_size=4, lr=3e-2)}, "training.lr: 0.01 -> 0.03"),
    ({"settings": TrainingSettings(steps=1, batch_size=4, lr=1e-2)}, "training.steps: 6 -> 1"),
    ({"weights": {"FD": 2.0}}, "loss_weights.FD: 1.0 -> 2.0"),
    ({"identity": {"teacher": "new"}}, "teacher: abc -> new"),
])
def test_resume_under_other_settings_restarts_from_scratch(tmp_path, capsys, change, named):
    """A checkpoint made under other settings (lr, steps, weights, teacher) is discarded with a log line
    naming what changed; the run equals a clean run of the new settings, never a mix of the two."""
    settings = TrainingSettings(steps=6, batch_size=4, lr=1e-2)
    _interrupt(tmp_path, settings, stop_after=2, identity={"teacher": "abc"})
    new = {"settings": settings, "identity": {"teacher": "abc"}, **change}
    rows = _run(tmp_path, new["settings"], identity=new["identity"], weights=change.get("weights"))
    out = capsys.readouterr().out
    assert "Discarded the resume state" in out and named in out and "from step 0" in out
    clean = _run(tmp_path / "clean", new["settings"], identity=new["identity"], weights=change.get("weights"))
    assert [r["step"] for r in rows] == [r["step"] for r in clean] == list(range(1, new["settings"].steps + 1))
    assert [r["lr"] for r in rows] == [r["lr"] for r in clean]
    assert [r["total"] for r in rows] == pytest.approx([r["total"] for r in clean], abs=1e-6)


def test_checkpoint_without_identity_is_not_continued(tmp_path, capsys):
    """A checkpoint of an earlier version records no settings: it cannot be shown to match, so it restarts."""
    settings = TrainingSettings(steps=4, batch_size=4, lr=1e-2)
    _interrupt(tmp_path, settings, stop_after=2)
    path = tmp_path / "state" / "state.pt"
    state = torch.load(path, weights_only=True)
    del state["identity"]
    torch.save(state, path)
    rows = _run(tmp_path, settings)
    assert "records no settings" in capsys.readouterr().out
    assert [r["step"] for r in rows] == [1, 2, 3, 4]


def test_a_batch_larger_than_the_corpus_is_said_in_the_log(tmp_path, capsys):
    _run(tmp_path, TrainingSettings(steps=1, batch_size=64, lr=1e-2))
    assert ("distillation.batch_size: 64 is more than the 8 items of the corpus, so every batch is the whole "
            "corpus (8).") in capsys.readouterr().out
