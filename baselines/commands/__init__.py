"""The baselines' subcommands, a module per group: ``masks`` and ``import`` (:mod:`.adapters`), ``run riveg``
(:mod:`.run`) and ``baseline ...``: ``plim-train``/``plim-predict`` (:mod:`.plim`), ``knowledge``
(:mod:`.knowledge`), ``expand``/``caption-ve``/``ve-train``/``vg-train`` (:mod:`.stage2`), ``tiny-models``
(:mod:`.models`), ``mllm`` (:mod:`.mllm`).

Each command body parses its options, calls the library and prints. Registering imports no torch,
transformers or ``datasets``: every command imports what it runs inside its function."""

from __future__ import annotations

import argparse

from . import adapters, knowledge, mllm, models, plim, run, stage2


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``masks``, ``import``, ``baseline`` and ``run`` (the ``smner_bench.commands`` entry point)."""
    adapters.register_masks(subparsers)
    adapters.register_import(subparsers)
    b = subparsers.add_parser("baseline", help="RiVEG reference baselines: train the models, run stages one by one")
    sub = b.add_subparsers(dest="baseline_command", metavar="ACTION", required=True)
    plim.register_train(sub)
    knowledge.register(sub)
    stage2.register_expand(sub)
    stage2.register_caption_ve(sub)
    run.register(subparsers)
    stage2.register_ve_vg(sub)
    models.register(sub)
    plim.register_predict(sub)
    mllm.register(sub)
