"""PLIM: the tweet's tokens, a separator, then the LLM's auxiliary knowledge, into an encoder + linear + CRF.

Labels and decoding are on the first sub-token of each original token; only the knowledge is ever cut to fit
the maximum length. See ``data.py`` (encoding), ``model.py`` (the network), ``train.py`` (training, early
stopping on dev F1 with the project's scorer, checkpoints) and ``predict.py`` (MNER submissions).
"""
