"""Train-split augmentation (`data.augment`): eda token edits and LLM paraphrases, filtered by the
experiment's own steps. `augment_train(cfg, out_dir, ctx)` is called by prepare after the split."""

from lmforge.data.augment.apply import augment_train

__all__ = ["augment_train"]
