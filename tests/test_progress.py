"""Progress lines of long jobs: when they are written (a fake clock: no test depends on timing), what
they say, and that the jobs' encoders write them only when given a label."""

import numpy as np
import pytest

from mvlm_distill.progress import PROGRESS_FRACTION, PROGRESS_SECONDS, ProgressLog, duration


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def _log(total, **kwargs):
    clock, lines = FakeClock(), []
    return ProgressLog("embed_texts", total, "texts", clock=clock, write=lines.append, **kwargs), clock, lines


def test_a_line_needs_both_the_interval_and_the_fraction_whichever_comes_later():
    log, clock, lines = _log(1000)
    clock.now += 10
    log.update(50)  # 5% of the work in 10 s: neither
    clock.now += PROGRESS_SECONDS
    log.update(40)  # 40 s, but 9% of the work
    assert lines == []
    log.update(20)  # 11%
    assert lines == ["embed_texts: 110/1,000 texts (11%), 2.8 texts/s, about 5m 24s left"]
    clock.now += PROGRESS_SECONDS - 1
    log.update(500)  # half the work, but within the interval since the last line
    assert len(lines) == 1
    clock.now += 1
    log.update(1)
    assert lines[-1] == "embed_texts: 611/1,000 texts (61%), 8.7 texts/s, about 45s left"


def test_fast_work_gets_no_line_before_the_interval_and_one_closing_line():
    log, clock, lines = _log(400)
    for _ in range(4):
        clock.now += 2
        log.update(100)
    assert lines == []
    log.finish()
    assert lines == ["embed_texts: 400 texts in 8s (50.0 texts/s)"]


def test_a_long_job_gets_about_one_line_per_tenth():
    log, clock, lines = _log(100_000)
    for _ in range(1000):
        clock.now += 9.0  # 100 batches of 100 texts in 9 s each: 2.5 hours
        log.update(100)
    log.finish()
    assert len(lines) == round(1 / PROGRESS_FRACTION) - 1 + 1  # each tenth but the last, and the close
    assert lines[0] == "embed_texts: 10,000/100,000 texts (10%), 11.1 texts/s, about 2h 15m left"
    assert lines[-1] == "embed_texts: 100,000 texts in 2h 30m (11.1 texts/s)"


@pytest.mark.parametrize("seconds, text", [(0, "0s"), (59.4, "59s"), (61, "1m 01s"), (3600 * 2 + 5 * 60, "2h 05m"),
                                           (float("inf"), "?")])
def test_durations(seconds, text):
    assert duration(seconds) == text


def test_encoders_log_under_their_label_and_none_without(tmp_path, capsys):
    """encode_tokens and encode_images (what the embedding and cache jobs run) write a closing line under
    their default label, and nothing with the label None."""
    import torch

    from mvlm_distill.distill.encode import encode_images, encode_tokens, tokenize_texts
    from tiny_models import tiny_images_and_captions, tiny_teacher

    torch.manual_seed(0)
    teacher = tiny_teacher("clip", tmp_path)
    images, pairs = tiny_images_and_captions(4)
    tokens = tokenize_texts(teacher, [text for _, text in pairs[:10]])
    quiet = encode_tokens(teacher, tokens, 4, "cpu", progress=None)
    assert capsys.readouterr().out == ""
    logged = encode_tokens(teacher, tokens, 4, "cpu")
    out = capsys.readouterr().out
    assert out.startswith("text embeddings: 10 texts in ") and out.count("\n") == 1
    np.testing.assert_array_equal(quiet, logged)
    paths = []
    for i, image in enumerate(images):
        paths.append(tmp_path / f"{i}.png")
        image.save(paths[-1])
    encode_images(teacher, paths, 3, "cpu")
    assert capsys.readouterr().out.startswith("image embeddings: 4 images in ")


def test_the_distillation_bar_refreshes_at_the_progress_interval(capsys):
    """The bar is drawn when it starts and closes and at most every PROGRESS_SECONDS between; the
    loss it shows waits for a refresh (set_postfix without refresh), so fast steps draw nothing."""
    from mvlm_distill.distill.trainer import _progress

    bar = _progress(range(200), 200, 0, True)
    assert bar.mininterval == PROGRESS_SECONDS
    for step in bar:
        bar.set_postfix(loss=f"{step:.4f}", refresh=False)
    drawn = [line for line in capsys.readouterr().err.replace("\r", "\n").split("\n") if line.strip()]
    assert len(drawn) == 2 and drawn[0].startswith("distill:   0%") and drawn[-1].startswith("distill: 100%")
