"""Model providers behind small interfaces: LLMs (a local transformers model, an OpenAI-compatible HTTP endpoint,
replay of a released knowledge file), captioners (transformers image-to-text, replay of caption files) and
text encoders. Every LLM answer goes through an on-disk cache, so a rerun costs nothing and an interrupted
run resumes where it stopped.
"""
