"""Report layer: tidy tables (``tables``), one view per panel (``views``), seaborn figures
(``figures``) and static pages from Jinja2 templates (``render``, ``templates/``).

Light jobs only: nothing here imports torch, open_clip or transformers. This module imports nothing,
so that the workflow can read the names of each page's figures while it plans.
"""

# the figures of each page: the report rules declare one output per name, the pages show them all
LANGUAGE_FIGURES = ("metrics", "retention", "consistency", "change")
INDEX_FIGURES = ("retention_heatmap", "loss_curves", "change_scatter", "consistency", "clustering", "projection")
