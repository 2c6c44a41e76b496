"""The optimiser and schedule both training loops share (mvlm_distill.optim)."""

import math

import pytest
import torch

from mvlm_distill.optim import adamw, apply_schedule, lr_at, parameter_groups


def test_warmup_then_cosine_to_zero():
    assert lr_at(0, 100, 2.0, 10) == pytest.approx(0.2)
    assert lr_at(9, 100, 2.0, 10) == pytest.approx(2.0)
    assert lr_at(10, 100, 2.0, 10) == pytest.approx(2.0)
    assert lr_at(55, 100, 2.0, 10) == pytest.approx(1.0)  # half way through the decay
    assert lr_at(100, 100, 2.0, 10) == pytest.approx(0.0)
    assert lr_at(0, 100, 1.0, 0) == 1.0  # no warmup: the decay starts at the peak


def test_schedule_sets_every_group():
    opt = torch.optim.AdamW([{"params": [torch.nn.Parameter(torch.ones(2, 2))]},
                             {"params": [torch.nn.Parameter(torch.ones(2))]}], lr=1.0)
    lr = apply_schedule(opt, 3, 20, 0.5, 4)
    assert lr == pytest.approx(0.5 * 4 / 4) and [g["lr"] for g in opt.param_groups] == [lr, lr]


class _Tower(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.token_embedding = torch.nn.Embedding(10, 4)
        self.proj = torch.nn.Linear(4, 4)
        self.ln_final = torch.nn.LayerNorm(4)
        self.logit_scale = torch.nn.Parameter(torch.tensor(math.log(10)))
        self.frozen = torch.nn.Parameter(torch.ones(4, 4), requires_grad=False)


def test_only_weight_matrices_decay():
    tower = _Tower()
    decay, no_decay = parameter_groups(tower.named_parameters(), 0.1)
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert [id(p) for p in decay["params"]] == [id(tower.proj.weight)]
    assert {id(p) for p in no_decay["params"]} == {
        id(tower.token_embedding.weight), id(tower.proj.bias), id(tower.ln_final.weight), id(tower.ln_final.bias),
        id(tower.logit_scale)}  # the frozen parameter is in neither group


def test_a_decay_step_leaves_biases_and_norms_alone():
    tower = _Tower()
    with torch.no_grad():
        for p in tower.parameters():
            p.fill_(1.0)
    opt = adamw(tower.named_parameters(), lr=0.1, weight_decay=0.5)
    for p in tower.parameters():
        p.grad = torch.zeros_like(p)  # no gradient: only weight decay moves a parameter
    opt.step()
    assert torch.allclose(tower.proj.weight, torch.full((4, 4), 1 - 0.1 * 0.5))
    for p in (tower.proj.bias, tower.ln_final.weight, tower.token_embedding.weight, tower.logit_scale):
        assert torch.equal(p, torch.ones_like(p))
