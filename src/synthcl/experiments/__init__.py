"""The paper's tables and figures as declarative experiments: specs, a resumable runner, reports.

``spec`` (YAML specs -> cells, pretrain keys), ``runner`` (run cells, one process or several),
``store`` (SQLite + per-cell JSON results), ``report`` / ``plots`` (report.md, PNGs), ``stats``
(mean, std, paired t intervals), ``paper_numbers`` (the paper's Tables 2-4), ``demo``.
"""
