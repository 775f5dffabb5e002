"""The public functions: everything the CLI does, as plain Python calls, usable from a notebook.

>>> import lmforge
>>> cfg = lmforge.load_config("examples/support-bot/exp.yaml", ["train.max_steps=10"])  # doctest: +SKIP
>>> lmforge.prepare(cfg); lmforge.train(cfg); lmforge.evaluate(cfg)  # doctest: +SKIP

Each name is the implementing function itself (no wrapper), grouped in the order data flows.
`import lmforge` stays light: the package imports this module on first use of one of these names.
"""

from lmforge.config import ExperimentConfig, load_config
from lmforge.data.prepare import prepare
from lmforge.evaluation.compare import evaluate
from lmforge.exporting.hf import export
from lmforge.formatting.preflight import inspect
from lmforge.formatting.token_cache import tokenize_split
from lmforge.inference.generation import generate, load_for_inference
from lmforge.inference.prediction import predict
from lmforge.inference.server import serve
from lmforge.models import load_model, load_tokenizer, resolve_model
from lmforge.reporting.render import write_report
from lmforge.training.lineage import verify
from lmforge.training.run import train
from lmforge.tuning import tune

report = write_report  # `lmforge.report(run_dir)`, the name of the command

__all__ = [
    "ExperimentConfig",
    "evaluate",
    "export",
    "generate",
    "inspect",
    "load_config",
    "load_for_inference",
    "load_model",
    "load_tokenizer",
    "predict",
    "prepare",
    "report",
    "resolve_model",
    "serve",
    "tokenize_split",
    "train",
    "tune",
    "verify",
    "write_report",
]
