"""The run report: one self-contained HTML page (inline plots, no network) for a data or train folder.

>>> from lmforge.reporting.render import write_report
>>> write_report("runs/support-bot")  # doctest: +SKIP
PosixPath('runs/support-bot/report.html')

render.py fills the template from load.py's run files with sections.py (data), train_section.py,
eval_section.py and plots.py. The public call is `lmforge.report(run_dir)`.
"""
