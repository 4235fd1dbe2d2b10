"""The end-to-end RiVEG runner: captions -> knowledge -> PLIM -> expansion -> VE -> VG -> SAM on one split.

Every stage reads the files of the stages before it and writes one JSON Lines file plus ``<stage>.json``, which
holds the stage's key: a SHA-256 over the content of everything its output depends on (its settings with every
model path replaced by the digests of the model's files, the shard's tweets and images, the split files it reads,
its input files; see :func:`stage_key`), never over paths or file times. A rerun skips a stage whose key is
unchanged (a crash loses only the stage that was running; ``force`` reruns chosen stages). ``<stage>.json`` also
holds the SHA-256 of the output as the stage wrote it: an output edited afterwards is never reused as the stage's
work: the run (and :func:`merge`) refuses it, naming the file (exit 1; delete it, or ``--force`` the stage, to
rerun it). A record without that digest (an older run) makes its stage run again. File digests are remembered in
``<out>/.digests.json`` (:mod:`.digests`), so a resumed run re-hashes only files that changed.

Before the first stage, :func:`check_run` checks what the run file names against this machine: the device is
there (``cuda`` after it becomes ``cuda:$LOCAL_RANK``) and can run the dtype, every path is there, and the output
folder is neither an input nor inside one nor holds one (exit 2, naming the run file, the line and the field).

Sharding: ``num_shards``/``shard_index`` give each process a contiguous block of the split's tweets and its own
folder ``<out>/shard-<i>-of-<n>/``, so any launcher (a SLURM array, torchrun, accelerate, a shell loop) can
spread the work; :func:`merge` joins the shards' files, in split order, into ``<out>/``. An unsharded run is
one shard and merges itself. Keys are content keys, so shards made on other nodes (other paths, node-local
copies of the models, data and images, other file times) merge as long as what they read is the same.

Files (each line has the tweet ``id``): ``captions.jsonl`` (``caption``), ``knowledge.jsonl`` (``knowledge``),
``mner.jsonl`` (MNER submission), ``expressions.jsonl`` (entities + ``expression``), ``ve.jsonl`` (+ ``groundable``,
``ve_score``), ``gmner.jsonl`` (GMNER submission), ``smner.jsonl`` (SMNER submission).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError, create_model, field_validator

from smner_bench.benchmark.errors import DataFormatError, MissingDataError, UsageError, validation_message
from smner_bench.benchmark.io import json_lines
from smner_bench.benchmark.safe_output import OutputError, check_folder, owned_folder, write_text
from smner_bench.benchmark.submission import EntityIn, write_submission

from .digests import CACHE_NAME, DigestCache
from .launcher import local_device
from .loading import read_text_file
from .run_config import RunConfig

log = logging.getLogger(__name__)

STAGE_VERSION = 2  # bump when a stage's output changes for the same inputs, or the keys change (2: content keys)
SUBMISSION_KEYS = ("start", "end", "text", "type")


@dataclass
class Stage:
    name: str
    output: str
    inputs: tuple[str, ...]  # names of earlier stages whose files it reads
    models: Callable[[RunConfig], list[str]]
    run: Callable[[Context, dict[str, list[dict]]], list[dict]]
    optional: bool = False


@dataclass
class Context:
    cfg: RunConfig
    rows: list[dict]
    folder: Path
    progress: bool = True
    cache: OrderedDict = field(default_factory=OrderedDict)
    inputs: list[str] = field(default_factory=list)  # what the run reads: its outputs may never be one of them

    def image(self, image_id: str):
        """The RGB image, or None when it is not on disk; the last 32 are kept (stages read them in order)."""
        from .images import open_rgb

        if image_id not in self.cache:
            self.cache[image_id] = open_rgb(self.cfg.images, image_id)
            if len(self.cache) > 32:
                self.cache.popitem(last=False)
        return self.cache[image_id]

    def per_image(self, lines: list[dict], answer: Callable, needs: Callable[[dict], bool]) -> list:
        """``answer(image or None, line)`` of each stage line (a tweet), the images of the lines that ``needs``
        decoded ahead by ``cfg.workers`` DataLoader processes (the VE, VG and SAM stages)."""
        from .images import per_image

        image_of = {r["id"]: r["image_id"] for r in self.rows}
        return per_image(
            lines, lambda line: image_of[line["id"]], self.cfg.images, answer, needs=needs, workers=self.cfg.workers
        )


# --- the stages ------------------------------------------------------------------------------------------


def _spec_path(spec: str) -> list[str]:
    kind, _, rest = spec.partition(":")
    return rest.split(",") if kind in ("transformers", "replay") else []


def _image_texts(ctx: Context, spec: str, field: str, prompt: str | None, max_new_tokens: int) -> tuple[dict, dict]:
    """(short captions, detailed descriptions) by tweet id from ``spec``: a replayed file gives what it holds
    (BLIP-2 captions and/or mPLUG-Owl descriptions), a model gives the same text for both."""
    from .providers.captioner import ReplayCaptioner, TransformersCaptioner

    kind, _, rest = spec.partition(":")
    if kind == "replay":
        replay = ReplayCaptioner(rest.split(","))
        return replay.captions, replay.descriptions
    if kind != "transformers":
        raise UsageError(f"captions.{field} {spec!r}: expected transformers:PATH or replay:FILE[,FILE...]")
    captioner = TransformersCaptioner(
        rest,
        batch_size=ctx.cfg.captions.batch_size,
        max_new_tokens=max_new_tokens,
        device=ctx.cfg.device,
        dtype=ctx.cfg.dtype,
        prompt=prompt,
    )
    texts: dict[str, str] = {}
    size = ctx.cfg.captions.batch_size
    for start in range(0, len(ctx.rows), size):  # a batch of images in memory at a time
        chunk = [r for r in ctx.rows[start : start + size] if ctx.image(r["image_id"]) is not None]
        if chunk:
            found = captioner.caption_images([ctx.image(r["image_id"]) for r in chunk])
            texts.update(zip([r["id"] for r in chunk], found, strict=True))
    return texts, texts


def run_captions(ctx: Context, _inputs) -> list[dict]:
    """``caption`` (short: MSEA, PLIM's prompt, VE) and ``description`` (detailed: expansion) of every tweet's
    image, as in the paper (BLIP-2 captions, mPLUG-Owl descriptions); ``captions.describer`` gives the
    descriptions, else the captioner's files (or captions) serve for both."""
    c = ctx.cfg.captions
    captions, descriptions = _image_texts(ctx, c.captioner, "captioner", c.prompt, c.max_new_tokens)
    if c.describer:
        other_captions, descriptions = _image_texts(
            ctx, c.describer, "describer", c.describer_prompt, c.describer_max_new_tokens
        )
        descriptions = descriptions or other_captions
    return [
        {
            "id": r["id"],
            "caption": captions.get(r["id"]) or descriptions.get(r["id"]) or "",
            "description": descriptions.get(r["id"]) or captions.get(r["id"]) or "",
        }
        for r in ctx.rows
    ]


def run_knowledge(ctx: Context, inputs) -> list[dict]:
    from smner_bench.loaders import read_captions

    from .knowledge import build_knowledge, msea_prompter
    from .providers.llm import llm_from_spec

    k = ctx.cfg.knowledge
    llm = llm_from_spec(
        k.llm,
        str(ctx.folder / "llm-cache.jsonl"),
        dataset=ctx.cfg.dataset,
        data_dir=ctx.cfg.data_dir,
        split=ctx.cfg.split,
        batch_size=k.batch_size,
        progress=ctx.progress,
        max_new_tokens=k.max_new_tokens,
        device=ctx.cfg.device,
        dtype=ctx.cfg.dtype,
        device_map=k.device_map,
        concurrency=k.concurrency,
        inputs=ctx.inputs,
    )
    prompter, images = None, {}
    if not k.llm.startswith("replay:"):
        if k.encoder is None:
            raise UsageError("knowledge.encoder is needed to choose in-context examples (MSEA)")
        images = {line["id"]: line["caption"] for line in inputs["captions"]}
        pool_images: dict[str, str] = {}
        if k.manual_captions:  # the annotated tweets' captions: never the shard's captions (the pool is fixed)
            captions, descriptions = read_captions(k.manual_captions)
            pool_images = {**descriptions, **captions}
        elif k.manual:
            raise UsageError("knowledge.manual_captions: the caption files of the annotated tweets are needed")
        prompter = msea_prompter(
            k.encoder,
            k.manual,
            k.manual_data,
            pool_images,
            data_dir=ctx.cfg.data_dir,
            top_n=k.top_n,
            device=ctx.cfg.device,
            dtype=ctx.cfg.dtype,
        )
        log.info("%s", prompter.pool.summary())
    answers = build_knowledge(ctx.rows, images, llm, prompter)
    return [{"id": r["id"], "knowledge": a} for r, a in zip(ctx.rows, answers, strict=True)]


def run_plim(ctx: Context, inputs) -> list[dict]:
    from .plim.config import PlimConfig
    from .plim.train import encode_rows, load_checkpoint, predict_tags, submission_lines

    model, tokenizer, meta = load_checkpoint(ctx.cfg.plim.checkpoint, dtype=ctx.cfg.dtype, device=ctx.cfg.device)
    cfg = PlimConfig.model_validate(meta["config"])
    rows = ctx.rows
    if cfg.knowledge:
        if "knowledge" not in inputs:
            raise UsageError(
                f"the PLIM checkpoint {ctx.cfg.plim.checkpoint} was trained with knowledge: add a knowledge stage"
            )
        knowledge = {line["id"]: line["knowledge"] for line in inputs["knowledge"]}
        rows = [{**r, "knowledge": knowledge[r["id"]]} for r in rows]
    encoded = encode_rows(rows, tokenizer, cfg, with_labels=False)
    model.to(ctx.cfg.device)
    tags = predict_tags(model, encoded, tokenizer.pad_token_id, ctx.cfg.plim.batch_size, ctx.cfg.device)
    return submission_lines(rows, tags)


def run_expansion(ctx: Context, inputs) -> list[dict]:
    from .expansion import expand, read_template
    from .providers.llm import llm_from_spec

    llm = llm_from_spec(
        ctx.cfg.expansion.llm,
        str(ctx.folder / "llm-cache.jsonl"),
        dataset=ctx.cfg.dataset,
        data_dir=ctx.cfg.data_dir,
        split=ctx.cfg.split,
        batch_size=ctx.cfg.expansion.batch_size,
        progress=ctx.progress,
        max_new_tokens=ctx.cfg.expansion.max_new_tokens,
        device=ctx.cfg.device,
        dtype=ctx.cfg.dtype,
        device_map=ctx.cfg.expansion.device_map,
        concurrency=ctx.cfg.expansion.concurrency,
        inputs=ctx.inputs,
    )
    # the detailed description feeds expansion (the paper's mPLUG-Owl); files of older runs have captions only
    images = {line["id"]: line.get("description") or line["caption"] for line in inputs["captions"]}
    texts = {r["id"]: " ".join(r["tokens"]) for r in ctx.rows}
    template = read_template(ctx.cfg.expansion.prompt_file) if ctx.cfg.expansion.prompt_file else None
    out = expand(inputs["mner"], texts, images, {"llm": llm}, template=template)
    return [
        {
            "id": line["id"],
            "entities": [{**_entity(e), "expression": e["expressions"]["llm"]} for e in line["entities"]],
        }
        for line in out
    ]


def _entity(e: dict) -> dict:
    return {k: e[k] for k in SUBMISSION_KEYS if k in e}


def _expression_source(ctx: Context) -> str | None:
    """The LLM of this run's expressions (``None``: ``"Entity (TYPE)"``)."""
    return ctx.cfg.expansion.llm if ctx.cfg.expansion else None


def _warn_source(meta: dict, ctx: Context, what: str) -> None:
    from .ve import sources_note

    note = sources_note(meta.get("expressions"), _expression_source(ctx), what)
    if note:
        log.warning("%s", note)


def run_ve(ctx: Context, inputs) -> list[dict]:
    from .ve import ImageTextMatcher, expression, with_caption

    matcher = ImageTextMatcher(ctx.cfg.ve.checkpoint, device=ctx.cfg.device, dtype=ctx.cfg.dtype)
    threshold = ctx.cfg.ve.threshold if ctx.cfg.ve.threshold is not None else matcher.threshold
    _warn_source(matcher.meta, ctx, f"the VE checkpoint {ctx.cfg.ve.checkpoint}")
    trained_caption = bool(matcher.meta.get("caption"))
    use_caption = trained_caption if ctx.cfg.ve.caption is None else ctx.cfg.ve.caption
    if use_caption != trained_caption and matcher.meta:
        log.warning(
            "the VE checkpoint %s was trained %s the caption in its input, ve.caption asks %s it",
            ctx.cfg.ve.checkpoint,
            "with" if trained_caption else "without",
            "with" if use_caption else "without",
        )
    captions = {line["id"]: line["caption"] for line in inputs.get("captions", [])}
    source = inputs["expansion"] if "expansion" in inputs else inputs["mner"]

    def judged(image, line: dict) -> dict:  # tweets without entities: no image decoded
        entities = [
            {**_entity(e), "expression": e.get("expression") or expression(e["text"], e["type"])}
            for e in line["entities"]
        ]
        texts = [
            with_caption(captions.get(line["id"]), e["expression"]) if use_caption else e["expression"]
            for e in entities
        ]
        scores = matcher.scores(image, texts) if image is not None else [0.0] * len(entities)
        for e, s in zip(entities, scores, strict=True):
            e["ve_score"] = round(float(s), 6)
            e["groundable"] = bool(image is not None and s >= threshold)
        return {"id": line["id"], "entities": entities}

    return ctx.per_image(source, judged, needs=lambda line: bool(line["entities"]))


def run_vg(ctx: Context, inputs) -> list[dict]:
    from .vg import Grounder

    grounder = Grounder(ctx.cfg.vg.checkpoint, device=ctx.cfg.device, dtype=ctx.cfg.dtype)
    _warn_source(grounder.meta, ctx, f"the VG checkpoint {ctx.cfg.vg.checkpoint}")

    def grounded(image, line: dict) -> dict:
        entities = [dict(_entity(e), box=None) for e in line["entities"]]
        chosen = [i for i, e in enumerate(line["entities"]) if e["groundable"]]
        if chosen:
            found = grounder.ground(image, [line["entities"][i]["expression"] for i in chosen])
            for i, (box, _) in zip(chosen, found, strict=True):
                entities[i]["box"] = box
        return {"id": line["id"], "entities": entities}

    return ctx.per_image(inputs["ve"], grounded, needs=lambda line: any(e["groundable"] for e in line["entities"]))


def run_sam(ctx: Context, inputs) -> list[dict]:
    from .sam import BoxToMask, add_masks, load_predictor

    sam = ctx.cfg.sam
    adapter = BoxToMask(
        load_predictor(sam.checkpoint, sam.model_type, ctx.cfg.device), multimask=sam.multimask, dtype=ctx.cfg.dtype
    )
    image_ids = {r["id"]: r["image_id"] for r in ctx.rows}
    return add_masks(inputs["vg"], ctx.cfg.images, adapter, image_ids=image_ids, workers=ctx.cfg.workers)


def path_fields(cfg: RunConfig) -> list[tuple[str, str]]:
    """``(field, path)`` of every path the run reads: ``data_dir``, ``images`` and each path of an enabled
    stage's section (see :data:`SECTION_PATHS`: checkpoints, the files of ``transformers:``/``replay:`` specs, the
    encoder, prompt file, manual annotations, captions and ``manual_data`` folders)."""
    found = [("data_dir", cfg.data_dir), ("images", cfg.images)]
    for stage in enabled(cfg):
        section = SECTION[stage.name]
        settings = getattr(cfg, section)
        for name, kind in SECTION_PATHS[section].items():
            value = getattr(settings, name)
            if value is None:
                continue
            where = f"{section}.{name}"
            if kind == "path":
                found.append((where, value))
            elif kind == "spec":
                found += [(where, p) for p in _spec_path(value)]
            elif kind == "paths":
                found += [(f"{where}.{i}", p) for i, p in enumerate(value)]
            else:  # CONFIG:FOLDER
                found += [(f"{where}.{i}", v.partition(":")[2]) for i, v in enumerate(value)]
    return found


def models_of(section: str) -> Callable[[RunConfig], list[str]]:
    """A stage's :attr:`Stage.models`: the paths of its section (:func:`path_fields`)."""
    return lambda cfg: [path for name, path in path_fields(cfg) if name.split(".")[0] == section]


STAGES = (
    Stage("captions", "captions.jsonl", (), models_of("captions"), run_captions),
    Stage("knowledge", "knowledge.jsonl", ("captions",), models_of("knowledge"), run_knowledge, optional=True),
    Stage("mner", "mner.jsonl", ("knowledge",), models_of("plim"), run_plim),
    Stage("expansion", "expressions.jsonl", ("mner", "captions"), models_of("expansion"), run_expansion, optional=True),
    Stage("ve", "ve.jsonl", ("mner", "expansion", "captions"), models_of("ve"), run_ve),
    Stage("vg", "gmner.jsonl", ("ve",), models_of("vg"), run_vg),
    Stage("sam", "smner.jsonl", ("vg",), models_of("sam"), run_sam, optional=True),
)
SECTION = {
    "captions": "captions",
    "knowledge": "knowledge",
    "mner": "plim",
    "expansion": "expansion",
    "ve": "ve",
    "vg": "vg",
    "sam": "sam",
}


def enabled(cfg: RunConfig) -> list[Stage]:
    return [s for s in STAGES if getattr(cfg, SECTION[s.name]) is not None]


# --- keys, shards, the run ---------------------------------------------------------------------------------


def stamp(path: str, digests: DigestCache | None = None) -> list:
    """The content of a model file (``[name, sha256]``) or folder (``[[relative name, sha256], ...]``)."""
    return (digests or DigestCache()).tree(path)


def check_device(cfg: RunConfig, environ=None) -> str:
    """The device this process runs on (:func:`~.launcher.local_device`), refused (exit 2, naming the run file's
    ``device`` or ``dtype``) when this machine does not have it or it cannot run the run's dtype."""
    from .dtype import resolve_dtype

    device = local_device(cfg.device, environ)
    shown = cfg.device if device == cfg.device else f"{cfg.device} (here {device}, from LOCAL_RANK)"
    kind, _, index = device.partition(":")
    if kind == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise UsageError(f"{shown}: no GPU is visible to this process (use cpu)", **cfg.where("device"))
        count = torch.cuda.device_count()
        if index and int(index) >= count:
            raise UsageError(
                f"{shown}: this process sees {count} GPU{'s' if count != 1 else ''} (cuda:0 to cuda:{count - 1})",
                **cfg.where("device"),
            )
    elif kind == "mps":
        import torch

        if not torch.backends.mps.is_available():
            raise UsageError(f"{shown}: no Apple GPU (MPS) is available (use cpu)", **cfg.where("device"))
    try:
        resolve_dtype(cfg.dtype, device)
    except UsageError as exc:
        raise UsageError(f"{cfg.dtype} on {device}: {exc.message}", **cfg.where("dtype")) from None
    return device


def check_paths(cfg: RunConfig, inputs: Sequence[str]) -> None:
    """Every path of the run file is there (``data_dir`` and ``images`` folders), and the output folder ``out`` is
    apart from every input (``inputs``: the run file and the paths): not one of them, not inside one (even before
    it exists: a run writing into its data or a model folder would change what it reads), not holding one, and
    otherwise a folder :func:`run_folders` may use (the safe-output rules). Exit 2, naming the field."""
    for name, path in path_fields(cfg):
        folder = name in ("data_dir", "images")
        what = "folder" if folder else "file or folder"
        if not path.strip():
            raise UsageError(f"an empty path (expected a {what})", **cfg.where(name))
        p = Path(path)
        if not (p.is_dir() if folder else (p.is_file() or p.is_dir())):
            raise MissingDataError(f"{path}: {what} not found", **cfg.where(name))
    if not cfg.out.strip():
        raise OutputError("an empty path (expected the run folder)", **cfg.where("out"))
    out = Path(cfg.out).resolve()
    for path in inputs:
        real = Path(path).resolve()
        if out == real:
            raise OutputError(f"{cfg.out}: refused: it is {path}, an input of this command", **cfg.where("out"))
        if real.is_dir() and real in out.parents:
            why = f"refused: it is inside {path}, an input of this command (the run would change what it reads)"
            raise OutputError(f"{cfg.out}: {why}", **cfg.where("out"))
    try:
        check_folder(cfg.out, "run", inputs=inputs, replaced=False)
    except OutputError as exc:
        raise OutputError(exc.message, **cfg.where("out")) from None


def check_run(cfg: RunConfig, config_file: str | None = None) -> str:
    """What a run file names, checked against this machine before anything runs (:func:`check_device`,
    :func:`check_paths`); returns the device this process uses."""
    device = check_device(cfg)
    check_paths(cfg, run_inputs(cfg, config_file))
    return device


def check_models(cfg: RunConfig) -> None:
    """Every model of the run is sound before its first stage (headers and metadata only): the PLIM checkpoint's
    ``plim.json``, VE/VG metadata, every JSON file, safetensors header and torch archive of the model folders
    and files (a damaged file is named, exit 1)."""
    from .loading import check_model_files
    from .metadata import FineTunedMeta, VEMeta, read_optional_meta
    from .plim.train import checkpoint_meta

    checkpoint_meta(cfg.plim.checkpoint)
    read_optional_meta(cfg.ve.checkpoint, "ve.json", VEMeta)
    read_optional_meta(cfg.vg.checkpoint, "vg.json", FineTunedMeta)
    paths = [cfg.plim.checkpoint, cfg.ve.checkpoint, cfg.vg.checkpoint, *([cfg.sam.checkpoint] if cfg.sam else [])]
    specs = [cfg.captions.captioner, cfg.captions.describer]
    if cfg.knowledge:
        specs.append(cfg.knowledge.llm)
        paths += [cfg.knowledge.encoder] if cfg.knowledge.encoder else []
    if cfg.expansion:
        specs.append(cfg.expansion.llm)
    paths += [p for spec in specs if spec and spec.startswith("transformers:") for p in _spec_path(spec)]
    for path in paths:
        check_model_files(path)


SECTION_PATHS: dict[str, dict[str, str]] = {  # the path-valued fields of each section, by kind of value
    "captions": {"captioner": "spec", "describer": "spec"},
    "knowledge": {
        "llm": "spec",
        "encoder": "path",
        "manual": "paths",
        "manual_captions": "paths",
        "manual_data": "data",
    },
    "plim": {"checkpoint": "path"},
    "expansion": {"llm": "spec", "prompt_file": "path"},
    "ve": {"checkpoint": "path"},
    "vg": {"checkpoint": "path"},
    "sam": {"checkpoint": "path"},
}


def split_files(folder: str, digests: DigestCache) -> dict[str, str | None]:
    """``{file name: sha256}`` of the split files (``train.txt``, ``dev.txt``/``valid.txt``, ``test.txt``) of a
    release folder: what the loaders and the MSEA example pool read of it (``None``: there, not a regular file)."""
    from smner_bench.benchmark.registry import SPLIT_FILES
    from smner_bench.loaders.configs import split_file

    if not Path(folder).is_dir():
        raise MissingDataError("data folder not found", file=folder)
    found: dict[str, str | None] = {}
    for split in SPLIT_FILES:
        try:
            path = split_file(folder, split)
        except MissingDataError:
            continue
        found[path.name] = digests.file(path) if path.is_file() else None
    return found


def _spec_content(spec: str, digests: DigestCache):
    """``transformers:PATH`` / ``replay:FILE[,FILE...]`` -> the kind and the content of each path; anything else
    (``openai:MODEL@URL``) names no file and stays as written."""
    kind, _, rest = spec.partition(":")
    if kind in ("transformers", "replay"):
        return [kind, [stamp(p, digests) for p in rest.split(",")]]
    return spec


def content_settings(section: str, settings: dict, digests: DigestCache) -> dict:
    """A section's settings with every path replaced by the content of what it points to (see
    :data:`SECTION_PATHS`)."""
    out = dict(settings)
    for name, kind in SECTION_PATHS[section].items():
        value = out.get(name)
        if value is None:
            continue
        if kind == "path":
            out[name] = stamp(value, digests)
        elif kind == "paths":
            out[name] = [stamp(v, digests) for v in value]
        elif kind == "spec":
            out[name] = _spec_content(value, digests)
        else:  # CONFIG:FOLDER
            out[name] = [[v.partition(":")[0], split_files(v.partition(":")[2], digests)] for v in value]
    return out


def row_digest(rows: Sequence[dict]) -> str:
    """The shard's tweets as the stages read them: ids, image ids and tokens, in order."""
    text = json.dumps([[r["id"], r["image_id"], r["tokens"]] for r in rows], ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def image_digests(images: str, rows: Sequence[dict], digests: DigestCache) -> dict[str, str | None]:
    """``{image file name: sha256}`` of this shard's tweets' images; ``None`` for an image that is not on disk
    (the stages see no image there either)."""
    from .images import image_file

    found: dict[str, str | None] = {}
    for r in rows:
        name = image_file("", r["image_id"]).as_posix()
        if name not in found:
            path = image_file(images, r["image_id"])
            found[name] = digests.file(path) if path.is_file() else None
    return found


def stage_key(
    stage: Stage,
    cfg: RunConfig,
    shard: tuple[int, int],
    rows: Sequence[dict],
    inputs: dict[str, Path],
    digests: DigestCache | None = None,
) -> str:
    """The stage's key: a SHA-256 over what its output depends on, by content only (see :mod:`.digests`):

    - ``stage``, ``version`` (:data:`STAGE_VERSION`) and ``shard`` (index, count);
    - ``settings``: the stage's section of the run file, every path in it (checkpoints, ``transformers:``,
      ``replay:`` specs, the encoder, prompt file, manual annotations and captions, ``manual_data`` releases)
      replaced by the relative names and SHA-256 of the files it points to;
    - ``run``: dataset, split, device (as the run file says, never the rank's ``cuda:N``) and dtype;
    - ``rows``: the shard's tweets (ids, image ids, tokens); ``images``: the SHA-256 of each of the shard's images
      (``null`` when missing); ``data`` (knowledge stage, whose example pool and replayed release read the
      release's split files): the SHA-256 of ``data_dir``'s split files;
    - ``inputs``: the SHA-256 of each earlier stage's file it reads.

    No absolute path and no file time is in it: shards made on other nodes from copies of the same models, data
    and images have the same keys and merge."""
    digests = digests or DigestCache()
    section = SECTION[stage.name]
    payload = {
        "stage": stage.name,
        "version": STAGE_VERSION,
        "settings": content_settings(section, getattr(cfg, section).model_dump(), digests),
        "run": {"dataset": cfg.dataset, "split": cfg.split, "device": cfg.device, "dtype": cfg.dtype},
        "shard": list(shard),
        "rows": row_digest(rows),
        "images": image_digests(cfg.images, rows, digests),
        "inputs": {name: digests.file(path) for name, path in sorted(inputs.items())},
    }
    if stage.name == "knowledge":
        payload["data"] = split_files(cfg.data_dir, digests)
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def shard_folder(cfg: RunConfig, num_shards: int, shard_index: int) -> Path:
    return Path(cfg.out) / f"shard-{shard_index}-of-{num_shards}"


def shard_rows(rows: list[dict], num_shards: int, shard_index: int) -> list[dict]:
    """A contiguous block: the first ``len % n`` shards get one tweet more."""
    if num_shards < 1 or not 0 <= shard_index < num_shards:
        raise UsageError(f"--shard-index {shard_index} is not in 0..{num_shards - 1}")
    size, extra = divmod(len(rows), num_shards)
    start = shard_index * size + min(shard_index, extra)
    return rows[start : start + size + (shard_index < extra)]


class _Entity(EntityIn):
    """An entity of a stage's output: the submission's entity (:class:`~smner_bench.benchmark.submission.EntityIn`)
    with its span and text given, and the fields of the stage that wrote it."""

    model_config = ConfigDict(extra="allow", strict=True)
    start: int
    end: int
    text: str

    @field_validator("box")
    @classmethod
    def _four_numbers(cls, box: list[float] | None) -> list[float] | None:
        if box is not None and len(box) != 4:
            raise ValueError("expected null or [x1, y1, x2, y2]")
        return box


class _Expressed(_Entity):
    expression: str


class _Judged(_Expressed):
    groundable: bool


class _Line(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)
    id: str


def _entity_line(entity: type[_Entity]) -> type[_Line]:
    return create_model(f"{entity.__name__}Line", __base__=_Line, entities=(list[entity], ...))


LINES: dict[str, type[_Line]] = {  # stage -> what later stages read of its lines
    "captions": create_model("CaptionLine", __base__=_Line, caption=(str, ...)),
    "knowledge": create_model("KnowledgeLine", __base__=_Line, knowledge=(str | None, None)),
    "mner": _entity_line(_Entity),
    "expansion": _entity_line(_Expressed),
    "ve": _entity_line(_Judged),
    "vg": _entity_line(_Entity),  # the box is the submission's: null or [x1, y1, x2, y2]
}


def _line_problem(line, stage: str | None) -> str | None:
    if not isinstance(line, dict) or not isinstance(line.get("id"), str):
        return 'expected a JSON object with the tweet "id"'
    try:
        LINES.get(stage, _Line).model_validate(line)
    except ValidationError as exc:
        return validation_message(exc)
    return None


def read_lines(path: Path, stage: str | None = None, ids: Sequence[str] | None = None) -> list[dict]:
    """A stage's output, as the next stage reads it: one JSON object per tweet with the fields that stage
    reads, in the order of ``ids`` (an edited or damaged file is named, to be deleted and rerun)."""
    rerun = "; delete the file to rerun its stage"
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataFormatError(f"not UTF-8 text (byte {exc.start}){rerun}", file=path) from None
    lines = []
    for n, line in json_lines(text, file=path, hint=rerun, skip_blank=False):
        problem = _line_problem(line, stage)
        if problem:
            raise DataFormatError(problem + rerun, file=path, line=n)
        lines.append(line)
    if ids is not None and [line["id"] for line in lines] != list(ids):
        raise DataFormatError(f"its tweets are not the run's tweets, in order{rerun}", file=path)
    return lines


def run_inputs(cfg: RunConfig, config_file: str | None = None) -> list[str]:
    """Every path a run reads (run file, data, images, models, replay files, manual annotations): the run folder
    may not hold one, and no file the run writes may be one."""
    paths = [config_file or cfg.source, *(path for _, path in path_fields(cfg))]
    return [p for p in paths if p]


def run_folders(cfg: RunConfig, inputs: Sequence[str], shard: tuple[int, int] | None = None) -> Path:
    """The run folder ``out`` (kind ``run``: created when its parent exists, reused when it is a run folder or
    empty, else refused) and, with ``shard = (index, count)``, the shard's folder in it; returns the latter."""
    folder = owned_folder(cfg.out, "run", inputs=inputs)
    if shard is not None:
        folder = owned_folder(shard_folder(cfg, shard[1], shard[0]), "shard", inputs=inputs)
    return folder


def split_rows(cfg: RunConfig) -> list[dict]:
    from smner_bench.loaders import load_split

    if not Path(cfg.data_dir).is_dir():
        raise MissingDataError("data_dir not found", file=cfg.data_dir)
    if not Path(cfg.images).is_dir():
        raise MissingDataError("image folder not found", file=cfg.images)
    ds = load_split(cfg.dataset, cfg.data_dir, cfg.split).remove_columns(["image"])
    return [{"id": r["id"], "image_id": r["image_id"], "tokens": r["tokens"]} for r in ds]


def _record(path: Path) -> dict:
    """A stage's record ``<stage>.json`` (``{}`` when missing or unreadable: the stage is stale)."""
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    return found if isinstance(found, dict) else {}


def _fresh(
    stage: Stage,
    cfg: RunConfig,
    shard: tuple[int, int],
    rows: Sequence[dict],
    done: dict[str, Path],
    folder: Path,
    digests: DigestCache,
    forced: bool = False,
):
    """The stage's key, its input files, and whether its output on disk was made with exactly that key and is
    what the stage wrote (an output whose SHA-256 differs from its record's is refused, naming the file, unless
    the stage is ``forced`` to run again)."""
    inputs = {name: done[name] for name in stage.inputs if name in done}
    key = stage_key(stage, cfg, shard, rows, inputs, digests)
    out, record = folder / stage.output, _record(folder / f"{stage.name}.json")
    if forced or not out.is_file() or record.get("key") != key or not isinstance(record.get("sha256"), str):
        return key, inputs, False
    found = digests.file(out)
    if found != record["sha256"]:
        raise DataFormatError(
            f"changed since the {stage.name} stage wrote it (SHA-256 {found[:12]}..., recorded "
            f"{record['sha256'][:12]}... in {stage.name}.json): an edited output is never reused; delete the file, "
            f"or run with --force {stage.name}, to run the stage again",
            file=out,
        )
    return key, inputs, True


def run(
    cfg: RunConfig,
    *,
    num_shards: int = 1,
    shard_index: int = 0,
    force: Sequence[str] = (),
    progress: bool = True,
    config_file: str | None = None,
) -> dict[str, str]:
    """Run (or resume) one shard; returns ``{stage: "ran" | "cached"}``. An unsharded run also merges.

    ``config_file``: the run file, an input the run's outputs may not replace."""
    unknown = set(force) - {s.name for s in STAGES}
    if unknown:
        raise UsageError(f"--force {', '.join(sorted(unknown))}: the stages are {', '.join(s.name for s in STAGES)}")
    config_file = config_file or cfg.source
    device = check_run(cfg, config_file)  # the device, every path and the output folder, before anything runs
    rows = shard_rows(split_rows(cfg), num_shards, shard_index)
    inputs = run_inputs(cfg, config_file)
    folder = run_folders(cfg, inputs, (shard_index, num_shards))
    check_models(cfg)  # then a damaged model, before the first stage
    digests = DigestCache(Path(cfg.out) / CACHE_NAME)  # shared by the run's shards
    # the stage keys name the run file's device ("cuda"); the stages run on this process's own (cuda:$LOCAL_RANK)
    ctx = Context(cfg.model_copy(update={"device": device}), rows, folder, progress, inputs=inputs)
    ids = [r["id"] for r in rows]
    done: dict[str, Path] = {}
    status = {}
    for stage in enabled(cfg):
        forced = stage.name in force
        key, stage_inputs, fresh = _fresh(stage, cfg, (shard_index, num_shards), rows, done, folder, digests, forced)
        digests.save(inputs)  # before the stage: a crash in it keeps what was hashed
        out = folder / stage.output
        if fresh:
            status[stage.name] = "cached"
        else:
            started = time.time()
            lines = stage.run(ctx, {name: read_lines(path, name, ids) for name, path in stage_inputs.items()})
            if [line["id"] for line in lines] != ids:
                raise RuntimeError(f"stage {stage.name} returned lines out of step with the split")  # a bug, not input
            write_submission(out, lines, inputs=inputs)
            seconds = round(time.time() - started, 2)
            meta = {"key": key, "stage": stage.name, "tweets": len(lines), "seconds": seconds}
            meta["sha256"] = digests.file(out)  # what the stage wrote: an edit of it is never reused
            write_submission(folder / f"{stage.name}.json", [meta], inputs=inputs)
            status[stage.name] = "ran"
            log.info("%s: %d tweets in %.1f s", stage.name, len(lines), seconds)
        done[stage.name] = out
    digests.save(inputs)  # the last stage's output digest too
    if num_shards == 1:  # its own files, just checked or written: no second check
        _join(cfg, [folder], inputs)
    return status


def merge(cfg: RunConfig, num_shards: int, *, config_file: str | None = None) -> list[Path]:
    """Join every stage file of the shards into ``<out>/``; refuses while a shard is missing, unfinished or made
    with other settings or inputs than the run file's (its keys are checked again, by content: shards made on
    other nodes from copies of the same models, data and images merge)."""
    config_file = config_file or cfg.source
    inputs = run_inputs(cfg, config_file)
    check_paths(cfg, inputs)  # ours (or not there yet), apart from the inputs: its cache may be written
    rows = split_rows(cfg)
    digests = DigestCache(Path(cfg.out) / CACHE_NAME)
    folders = []
    try:
        for i in range(num_shards):
            folder = shard_folder(cfg, num_shards, i)
            shard = shard_rows(rows, num_shards, i)
            done: dict[str, Path] = {}
            for stage in enabled(cfg):
                _, _, fresh = _fresh(stage, cfg, (i, num_shards), shard, done, folder, digests)
                if not fresh:
                    raise MissingDataError(
                        f"shard {i} of {num_shards} has not finished stage {stage.name} with the run file's "
                        f"settings: run it with --shard-index {i}",
                        file=folder / stage.output,
                    )
                done[stage.name] = folder / stage.output
            folders.append(folder)
    finally:
        if Path(cfg.out).is_dir():
            digests.save(inputs)
    run_folders(cfg, inputs)  # still a run folder
    return _join(cfg, folders, inputs)


def _join(cfg: RunConfig, folders: Sequence[Path], inputs: Sequence[str]) -> list[Path]:
    """Concatenate each stage's file of ``folders`` (in shard order) into ``<out>/``."""
    written = []
    for stage in enabled(cfg):
        target = Path(cfg.out) / stage.output
        text = "".join(read_text_file(f / stage.output, "stage file") for f in folders)
        write_text(target, text, inputs=inputs)
        written.append(target)
    return written


def final_output(cfg: RunConfig) -> Path:
    return Path(cfg.out) / enabled(cfg)[-1].output


def describe(status: dict[str, str]) -> str:
    return ", ".join(f"{name} {state}" for name, state in status.items())
