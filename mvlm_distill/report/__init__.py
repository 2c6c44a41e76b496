"""Report layer: tidy tables (``tables``), their paired tests (``significance``), one view per panel
(``views``), seaborn figures (``figures``) and static pages from Jinja2 templates (``render``,
``templates/``).

Light jobs only: nothing here imports torch, open_clip or transformers. This module imports only the
contract's names, so that the workflow can read the names of each page's figures and tables while it plans.
"""

from mvlm_distill.definitions import METRICS

# the figures of each page: the report rules declare one output per name, the pages show them all
LANGUAGE_FIGURES = ("metrics", "retention", "consistency", "change")
INDEX_FIGURES = ("retention_heatmap", "retention_by_level", "loss_curves", "change_scatter", "consistency", "clustering", "projection")


def table_stem(task: str, metric: str) -> str:
    """The file name of a task and metric's per-language tables without extension: ``t2i_R10``, ``vqa_acc1``."""
    return f"{task}_{metric.replace('@', '')}"


# the per-language tables (rule language_tables: a CSV and a LaTeX table each), by file stem
LANGUAGE_TABLES = {table_stem(task, metric): (task, metric) for task, metrics in METRICS.items() for metric in metrics}
