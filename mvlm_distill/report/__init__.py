"""Report layer: tidy tables (``tables``), seaborn figures (``figures``) and static HTML pages (``html``).

Light jobs only: nothing here imports torch, open_clip or transformers. Entry point for the workflow:
``mvlm_distill.report.html.write_reports``.
"""
