"""Reference baselines: the RiVEG pipeline of the paper (Li et al., IEEE TMM 2025) and what goes beyond it; torch
lives here, never in the core.

Each baseline is a library function over a typed config (``mllm.run(MllmConfig, gold)``, ``knowledge.build``,
``plim.train``, the VE/VG trainers, the runner); ``commands/`` adapts each to the command line. Other systems' files
are converted by :mod:`smner_bench.formats`, not here.

Map of the package:

- stage 1, MNER: ``plim/`` (the PLIM tagger: encoder + linear + CRF over the tweet and its LLM knowledge; train,
  predict), ``msea`` (similar in-context examples and the heuristic prompt), ``knowledge`` (knowledge for a whole
  split through an LLM provider), ``providers/`` (LLMs, captioners and text encoders behind small interfaces,
  with an answer cache);
- stage 2, grounding: ``expansion`` (referring expressions), ``ve`` (visual entailment), ``vg`` (visual
  grounding), ``sam`` (box-prompted SAM masks: any GMNER submission to SMNER), ``caption_ve`` (a text-only VE),
  ``stage2_data`` (their training data), ``decision`` (thresholds chosen on dev);
- beyond RiVEG: ``mllm`` (a multimodal LLM behind an OpenAI-compatible endpoint as a GMNER baseline);
- shared machinery: ``training`` (the one training loop, on accelerate), ``images`` (streamed images with a
  bounded cache), ``launcher`` (shards and devices from the launcher's variables), ``dtype``, ``loading`` and
  ``metadata`` (model folders read with clear errors), ``tiny`` (tiny random models for tests and the demo);
- the end-to-end runner: ``run_config`` (the run file), ``runner`` (stages cached by content, sharded,
  merged), ``digests`` (content digests of its inputs);
- the command line: ``commands/`` (one module per group of subcommands), ``choices``; measured runs:
  ``experiments/`` (scripts) and ``results/`` (their figures).
"""
