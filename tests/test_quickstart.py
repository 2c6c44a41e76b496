"""The one-process CLI runs the whole core chain (tiny budget: a smoke test, numbers are chance)."""

import subprocess
import sys


def test_quickstart_prints_teacher_init_and_student_per_language(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "mvlm_distill.quickstart", "--family", "siglip2", "--method", "DR+ED",
         "--teacher-steps", "2", "--distill-steps", "2", "--train-images", "60", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert "text-to-image R@1 (siglip2" in out and "text-to-image R@10" in out
    for row in ("teacher", "init", "DR+ED"):
        assert f"\n{row} " in out
    for language in ("en", "de", "fr", "es", "ru", "zh", "ja", "th", "sw"):
        assert language in out
