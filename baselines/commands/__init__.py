"""The baselines' commands, a module per group: ``masks`` (:mod:`.masks`), ``run riveg`` (:mod:`.run`) and
``baseline ...``: ``plim-train``/``plim-predict`` (:mod:`.plim`), ``knowledge`` (:mod:`.knowledge`),
``expand``/``caption-ve``/``ve-train``/``vg-train`` (:mod:`.stage2`), ``tiny-models`` (:mod:`.models`), ``mllm``
(:mod:`.mllm`). The command table (:mod:`smner_bench.cli`) names them.

Each command parses its options into a config, calls the library and prints. Adding the options imports no torch,
transformers or ``datasets``: every command imports what it runs inside its function."""

from __future__ import annotations

import argparse

from . import hf_tagger, knowledge, mllm, models, plim, stage2


def options_baseline(b: argparse.ArgumentParser) -> None:
    """``baseline ACTION``: the RiVEG stages one by one, the models' training, and the MLLM baseline."""
    sub = b.add_subparsers(dest="baseline_command", metavar="ACTION", required=True)
    plim.register_train(sub)
    knowledge.register(sub)
    stage2.register_expand(sub)
    stage2.register_caption_ve(sub)
    stage2.register_ve_vg(sub)
    models.register(sub)
    plim.register_predict(sub)
    mllm.register(sub)
    hf_tagger.register(sub)
