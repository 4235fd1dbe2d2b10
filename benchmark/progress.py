"""Progress bars: when the package shows one, and the libraries' own bars it turns off.

Our own bars (training epochs, PLIM's dev evaluation, LLM requests) are drawn only where someone watches: a
terminal on standard error (:func:`show_progress`), so a log file or CI output holds no bar fragments.
``datasets`` draws a bar for every split it generates, maps or writes, ``transformers`` one for every weights
file it loads or writes; for the local, quick builds and loads the package runs they are noise, so they are off
inside :func:`library_bars_off` (the builder, the export, model loading and saving), as they were after it.
Neither library is imported here: one that is not loaded yet draws nothing to turn off.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager


def show_progress(progress: bool | None = None) -> bool:
    """Whether to draw a progress bar: ``progress`` when given (a ``--quiet`` option says False), else whether
    standard error is a terminal."""
    if progress is not None:
        return progress
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed
        return False


@contextmanager
def library_bars_off(*, transformers: bool = False) -> Iterator[None]:
    """``datasets``' and ``transformers``' progress bars off inside the block, each back as it was after; with
    ``transformers``, its logging is imported first (a block that will import it, such as saving models)."""
    restore = []
    datasets = sys.modules.get("datasets")
    if datasets is not None:
        from datasets import config
        from datasets.utils import logging as ds_logging

        # HF_DATASETS_DISABLE_PROGRESS_BARS=0 asks for the bars: they stay
        if config.HF_DATASETS_DISABLE_PROGRESS_BARS is None and ds_logging.is_progress_bar_enabled():
            ds_logging.disable_progress_bar()
            restore.append(ds_logging.enable_progress_bar)
    if transformers or sys.modules.get("transformers") is not None:
        from transformers.utils import logging as tf_logging

        if tf_logging.is_progress_bar_enabled():
            tf_logging.disable_progress_bar()
            restore.append(tf_logging.enable_progress_bar)
    try:
        yield
    finally:
        for enable in restore:
            enable()
