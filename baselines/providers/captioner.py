"""Image captioners: a transformers image-to-text model (the BLIP-2 family, InstructBLIP-style models that need a
text prompt) and replay of caption files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from smner_bench.benchmark.errors import MissingDataError

from ..dtype import load_kwargs
from ..loading import from_pretrained


class ReplayCaptioner:
    """Captions (and detailed descriptions) from the released caption files, by image id."""

    def __init__(self, files: Sequence[str | Path]) -> None:
        from smner_bench.loaders import read_captions

        self.captions, self.descriptions = read_captions(list(files))

    def caption(self, image_ids: Sequence[str]) -> list[str]:
        missing = [i for i in image_ids if i not in self.captions and i not in self.descriptions]
        if missing:
            raise MissingDataError(
                f"no caption for images {', '.join(missing[:5])}"
                + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            )
        return [self.captions.get(i) or self.descriptions[i] for i in image_ids]


class TransformersCaptioner:
    """A BLIP-2-style model: ``AutoProcessor`` + ``AutoModelForImageTextToText`` from a local path, in ``dtype``;
    greedy decoding of a short caption per image, in batches.

    ``prompt``: a text given with every image (InstructBLIP-style models need one, e.g. "A short image
    description:"; BLIP-2 takes one too); where the model echoes it, it is cut from the caption."""

    def __init__(
        self,
        path: str,
        *,
        max_new_tokens: int = 40,
        batch_size: int = 8,
        device: str = "cpu",
        dtype: str | None = "fp32",
        prompt: str | None = None,
        model=None,
        processor=None,
    ) -> None:
        from transformers import AutoModelForImageTextToText, AutoProcessor

        self.processor = processor or from_pretrained(AutoProcessor, path, "captioner")
        self.model = (
            (model or from_pretrained(AutoModelForImageTextToText, path, "captioner", **load_kwargs(dtype, device)))
            .to(device)
            .eval()
        )
        self.max_new_tokens, self.batch_size, self.device, self.prompt = max_new_tokens, batch_size, device, prompt

    def caption_images(self, images: Sequence) -> list[str]:
        import torch

        out = []
        for start in range(0, len(images), self.batch_size):
            chunk = list(images[start : start + self.batch_size])
            text = {"text": [self.prompt] * len(chunk)} if self.prompt else {}
            batch = self.processor(images=chunk, return_tensors="pt", **text).to(self.device)
            batch["pixel_values"] = batch["pixel_values"].to(self.model.dtype)  # the model's dtype, not float32
            with torch.no_grad():
                ids = self.model.generate(**batch, max_new_tokens=self.max_new_tokens, do_sample=False)
            out += [self._cut_prompt(t) for t in self.processor.batch_decode(ids, skip_special_tokens=True)]
        return out

    def _cut_prompt(self, text: str) -> str:
        text = text.strip()
        if self.prompt and text.startswith(self.prompt.strip()):
            text = text[len(self.prompt.strip()) :].strip()
        return text
