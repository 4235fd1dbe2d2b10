"""RiVEG reference baselines (torch lives here).

Stage 1, built so far: the PLIM tagger (``smner_bench.baselines.plim``): a transformers encoder + linear layer
+ CRF over the tweet's tokens followed by LLM knowledge. Not built yet: the LLM / captioner providers with
their disk cache, MSEA example selection, entity expansion (issue 4), and stage 2 (issue 5).
"""
