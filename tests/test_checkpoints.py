"""Real checkpoints: models saved in bf16 load and run in fp32 and bf16 (PLIM, MSEA encoder, VE, VG, SAM,
captioner, LLM); other encoder classes (DistilBERT, DeBERTa-v2) as PLIM encoders; VG through the Auto class;
LLM prompts longer than the context skipped and counted; the plain format without a chat template; the HTTP
backend's concurrency. Tiny random models from configs, saved to tmp: nothing is downloaded."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from .conftest import IN_CI

torch = pytest.importorskip("torch") if not IN_CI else __import__("torch")

from smner_bench.baselines import tiny  # noqa: E402
from smner_bench.baselines.dtype import resolve_dtype, to_numpy  # noqa: E402
from smner_bench.baselines.images import open_rgb  # noqa: E402
from smner_bench.benchmark.errors import UsageError  # noqa: E402
from smner_bench.cli import main  # noqa: E402
from smner_bench.loaders import load_split  # noqa: E402

WORDS = ["kobe", "bryant", "paris", "nba", "city", "a", "dog", "on", "the", "grass", "Text", "Answer", ":"]


def to_bf16(src: Path, dst: Path) -> Path:
    """A copy of a transformers model folder with every float weight stored in bf16 (and the config saying
    so), as checkpoints are often published."""
    from safetensors.torch import load_file, save_file

    shutil.copytree(src, dst)
    weights = list(dst.glob("*.safetensors"))
    assert weights
    for f in weights:
        state = {k: v.to(torch.bfloat16) if v.is_floating_point() else v for k, v in load_file(f).items()}
        save_file(state, f, metadata={"format": "pt"})
    config = json.loads((dst / "config.json").read_text())
    config["dtype"] = "bfloat16"
    (dst / "config.json").write_text(json.dumps(config))
    return dst


def dtypes(module) -> set:
    return {p.dtype for p in module.parameters()}


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("checkpoints")


@pytest.fixture(scope="module")
def image(sample_dir):
    return open_rgb(sample_dir / "images", "s0001")


# --- dtype helpers -----------------------------------------------------------------------------------------


def test_dtype_helpers():
    assert resolve_dtype(None) == resolve_dtype("fp32") == torch.float32
    assert resolve_dtype("bf16") == torch.bfloat16
    with pytest.raises(UsageError, match="fp16 needs a GPU"):
        resolve_dtype("fp16", "cpu")
    with pytest.raises(UsageError, match="expected one of fp32, bf16, fp16"):
        resolve_dtype("fp64")
    x = torch.tensor([1.5, 2.25], dtype=torch.bfloat16)
    with pytest.raises(TypeError):
        x.numpy()  # what broke MSEA features before
    assert to_numpy(x).dtype == np.float32 and to_numpy(x).tolist() == [1.5, 2.25]


# --- encoders: PLIM and MSEA -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bert_bf16(root):
    return to_bf16(tiny.save_encoder(root / "bert", WORDS), root / "bert-bf16")


def plim_batch(tokenizer):
    from smner_bench.baselines.plim.data import collate, encode

    tweets = [(["Kobe", "Bryant", "in", "Paris"], "Kobe Bryant is a person"), (["a", "dog"], None)]
    encoded = [encode(tokenizer, t, k, tags=[0] * len(t), max_length=64) for t, k in tweets]
    return collate(encoded, tokenizer.pad_token_id)


def save_plim(model, tokenizer, folder: Path, encoder: Path, sample_dir: Path):
    from smner_bench.baselines.plim.config import PlimConfig
    from smner_bench.baselines.plim.train import save_checkpoint

    folder.parent.mkdir(parents=True, exist_ok=True)
    cfg = PlimConfig(encoder=str(encoder), data_dir=str(sample_dir), out=str(folder.parent / "run"), max_length=64)
    save_checkpoint(model, tokenizer, cfg, folder, {"epoch": 1})
    return folder


def test_plim_from_a_bf16_saved_encoder_and_a_bf16_checkpoint(bert_bf16, root, sample_dir):
    from transformers import AutoTokenizer

    from smner_bench.baselines.plim.model import PlimTagger
    from smner_bench.baselines.plim.train import load_checkpoint

    model = PlimTagger.from_pretrained(str(bert_bf16))
    assert dtypes(model) == {torch.float32}  # loaded in fp32 whatever it was saved in
    tokenizer = AutoTokenizer.from_pretrained(bert_bf16)
    batch = plim_batch(tokenizer)
    loss = model.loss(batch)
    loss.backward()
    assert torch.isfinite(loss) and model.classifier.weight.grad.dtype == torch.float32
    with torch.autocast("cpu", dtype=torch.bfloat16):  # mixed-precision training: bf16 compute, fp32 loss for the CRF
        assert model.loss(batch).dtype == torch.float32
    # a checkpoint whose weights and config are bf16
    folder = save_plim(model, tokenizer, root / "plim-bf16" / "best", bert_bf16, sample_dir)
    state = torch.load(folder / "model.pt", weights_only=True)
    torch.save({k: v.to(torch.bfloat16) if v.is_floating_point() else v for k, v in state.items()}, folder / "model.pt")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "dtype": "bfloat16"}))
    fp32, _, _ = load_checkpoint(folder)
    assert dtypes(fp32) == {torch.float32}
    bf16, _, _ = load_checkpoint(folder, dtype="bf16")
    assert dtypes(bf16.encoder) == {torch.bfloat16} and dtypes(bf16.classifier) == {torch.float32}
    assert dtypes(bf16.crf) == {torch.float32}
    for m in (fp32, bf16):
        tags = m.decode(batch)
        assert [len(t) for t in tags] == [4, 2]
    with pytest.raises(UsageError, match="fp16 needs a GPU"):
        load_checkpoint(folder, dtype="fp16")


def test_plim_predict_command_with_dtype(bert_bf16, root, sample_dir, capsys):
    from transformers import AutoTokenizer

    from smner_bench.baselines.plim.model import PlimTagger

    tokenizer = AutoTokenizer.from_pretrained(bert_bf16)
    folder = save_plim(
        PlimTagger.from_pretrained(str(bert_bf16)), tokenizer, root / "p2" / "best", bert_bf16, sample_dir
    )
    out = {}
    for dtype in ("fp32", "bf16"):
        out[dtype] = root / f"pred-{dtype}.jsonl"
        assert main(["baseline", "plim-predict", str(folder), "--split", "test", "-o", str(out[dtype]),
                     "--dtype", dtype]) == 0  # fmt: skip
    n = len(load_split("gmner", sample_dir, "test"))
    assert all(len(p.read_text().splitlines()) == n for p in out.values())
    code = main(["baseline", "plim-predict", str(folder), "--split", "test", "-o", str(root / "x.jsonl"), "--dtype",
                 "fp16"])  # fmt: skip
    assert code == 2 and "fp16 needs a GPU" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["distilbert", "deberta-v2"])
def test_encoders_without_a_pooler_work_for_plim_msea_and_caption_ve(kind, root, sample_dir):
    from transformers import AutoConfig, AutoTokenizer

    from smner_bench.baselines.caption_ve import CrossEncoder
    from smner_bench.baselines.plim.model import PlimTagger
    from smner_bench.baselines.plim.train import load_checkpoint
    from smner_bench.baselines.providers.encoder import Encoder, encoder_from_config, load_encoder

    folder = tiny.save_encoder(root / kind, WORDS, kind=kind)
    model = PlimTagger.from_pretrained(str(folder))  # add_pooling_layer is not passed to these classes
    assert type(model.encoder).__name__ == {"distilbert": "DistilBertModel", "deberta-v2": "DebertaV2Model"}[kind]
    tokenizer = AutoTokenizer.from_pretrained(folder)
    batch = plim_batch(tokenizer)
    assert torch.isfinite(model.loss(batch))
    ckpt = save_plim(model, tokenizer, root / f"{kind}-run" / "best", folder, sample_dir)
    again, _, _ = load_checkpoint(ckpt)
    model.eval()
    assert again.decode(batch) == model.decode(batch)  # the checkpoint reloads exactly
    assert PlimTagger.from_config(AutoConfig.from_pretrained(folder)).encoder is not None
    vectors = Encoder(str(folder)).encode(["kobe bryant", "a dog on the grass"])  # no token_type_ids passed
    assert vectors.shape == (2, 32) and vectors.dtype == np.float32
    assert CrossEncoder(load_encoder(str(folder))) and encoder_from_config(AutoConfig.from_pretrained(folder))


def test_msea_encoder_saved_in_bf16(bert_bf16):
    from smner_bench.baselines.providers.encoder import Encoder

    texts = ["kobe bryant", "paris city", "a dog on the grass"]
    fp32 = Encoder(str(bert_bf16))
    assert dtypes(fp32.model) == {torch.float32}
    bf16 = Encoder(str(bert_bf16), dtype="bf16")
    assert dtypes(bf16.model) == {torch.bfloat16}
    a, b = fp32.encode(texts), bf16.encode(texts)
    assert a.dtype == b.dtype == np.float32 and a.shape == b.shape == (3, 32)
    assert np.allclose(a, b, atol=0.1)  # the same features, at bf16 precision


# --- VE, VG, SAM, captioner ----------------------------------------------------------------------------------


def test_ve_matcher_saved_in_bf16(root, image):
    from smner_bench.baselines.ve import ImageTextMatcher

    folder = to_bf16(tiny.save_image_text_matcher(root / "ve", WORDS), root / "ve-bf16")
    texts = ["kobe bryant (PER)", "paris (LOC)"]
    fp32 = ImageTextMatcher(folder)
    assert dtypes(fp32.model) == {torch.float32}
    bf16 = ImageTextMatcher(folder, dtype="bf16")
    assert dtypes(bf16.model) == {torch.bfloat16}
    a, b = fp32.scores(image, texts), bf16.scores(image, texts)
    assert a.dtype == b.dtype == np.float32 and ((b > 0) & (b < 1)).all()
    assert np.allclose(a, b, atol=0.05)


def test_ve_training_with_bf16_mixed_precision(root, sample_dir, monkeypatch):
    from smner_bench.baselines import ve

    images = sample_dir / "images"
    items = ve.ve_items(load_split("gmner", sample_dir, "train"), images)[:6]
    seen, logits = [], ve.itm_logits

    def recording(model, batch):  # what the training forward computes in, under accelerate's autocast
        out = logits(model, batch)
        seen.append(out.dtype) if model.training else None
        return out

    monkeypatch.setattr(ve, "itm_logits", recording)
    paths = {"base": str(root / "ve"), "data_dir": str(sample_dir), "images": str(images), "out": str(root / "ve-amp")}
    config = ve.VeConfig(mixed_precision="bf16", workers=0, **paths)
    meta = ve.train_matcher(config, items, items[:3], progress=False)
    assert seen and set(seen) == {torch.bfloat16}
    assert meta["mixed_precision"] == "bf16" and np.isfinite(meta["history"][0]["loss"])
    assert meta["world_size"] == 1 and meta["global_batch"] == meta["per_process_batch"] == 8
    saved = json.loads((root / "ve-amp" / "config.json").read_text())
    assert saved.get("dtype") in (None, "float32")  # the weights stay fp32


def test_vg_through_the_auto_class_saved_in_bf16(root, image):
    from smner_bench.baselines.vg import Grounder

    folder = to_bf16(tiny.save_grounder(root / "vg", WORDS), root / "vg-bf16")
    phrases = ["kobe bryant", "the dog"]
    fp32 = Grounder(folder)
    assert type(fp32.model).__name__ == "GroundingDinoForObjectDetection"  # via AutoModelForZeroShotObjectDetection
    assert dtypes(fp32.model) == {torch.float32}
    bf16 = Grounder(folder, dtype="bf16")
    assert dtypes(bf16.model) == {torch.bfloat16}
    w, h = image.size
    for grounder in (fp32, bf16):
        found = grounder.ground(image, phrases)
        assert len(found) == 2
        for box, score in found:
            assert 0 <= box[0] < box[2] <= w and 0 <= box[1] < box[3] <= h and 0 <= score <= 1


def test_mm_grounding_dino_loads_through_the_auto_class(root, image):
    from smner_bench.baselines.vg import Grounder

    folder = tiny.save_grounder(root / "mm-gdino", WORDS, mm=True)
    grounder = Grounder(folder, dtype="bf16")
    assert type(grounder.model).__name__ == "MMGroundingDinoForObjectDetection"
    assert len(grounder.ground(image, ["kobe bryant", "paris"])) == 2


def test_no_private_transformers_helpers_in_the_baselines():
    root = Path(__file__).resolve().parents[1] / "baselines"
    for path in root.rglob("*.py"):
        assert "transformers.models." not in path.read_text(encoding="utf-8"), path


def test_sam_saved_in_bf16_runs_in_fp32_and_bf16(root, sample_dir):
    from smner_bench.baselines.sam import BoxToMask, load_predictor
    from smner_bench.benchmark.regions import decode_rle

    path = tiny.save_sam(root / "sam.pth")
    state = torch.load(path, weights_only=True)
    torch.save({k: v.to(torch.bfloat16) if v.is_floating_point() else v for k, v in state.items()}, path)
    pixels = np.asarray(open_rgb(sample_dir / "images", "s0001"))
    h, w = pixels.shape[:2]
    boxes = [[1, 1, w // 2, h // 2], [w // 4, h // 4, w - 1, h - 1]]
    for dtype in ("fp32", "bf16"):
        predictor = load_predictor(path, "tiny")
        assert dtypes(predictor.model) == {torch.float32}
        masks = BoxToMask(predictor, multimask=True, dtype=dtype).masks(pixels, boxes)
        assert [decode_rle(m).shape for m in masks] == [(h, w), (h, w)]
    with pytest.raises(UsageError, match="fp16 needs a GPU"):
        BoxToMask(load_predictor(path, "tiny"), dtype="fp16")


def test_captioner_saved_in_bf16_with_a_prompt(root, sample_dir):
    from smner_bench.baselines.providers.captioner import TransformersCaptioner

    folder = to_bf16(tiny.save_captioner(root / "cap", WORDS), root / "cap-bf16")
    images = [open_rgb(sample_dir / "images", f"s000{i}") for i in (1, 2)]
    fp32 = TransformersCaptioner(str(folder), max_new_tokens=4)
    assert dtypes(fp32.model) == {torch.float32}
    bf16 = TransformersCaptioner(str(folder), max_new_tokens=4, dtype="bf16", prompt="a dog")
    assert dtypes(bf16.model) == {torch.bfloat16}
    for captioner in (fp32, bf16):
        captions = captioner.caption_images(images)
        assert len(captions) == 2 and all(isinstance(c, str) for c in captions)
    assert bf16._cut_prompt(" a dog on the grass ") == "on the grass"  # an echoed prompt is cut


# --- LLMs ------------------------------------------------------------------------------------------------------


def test_llm_saved_in_bf16(root):
    from smner_bench.baselines.providers.llm import Request, TransformersLLM

    folder = to_bf16(tiny.save_causal_lm(root / "llm", WORDS), root / "llm-bf16")
    requests = [Request("Text : kobe bryant Answer :"), Request("paris")]
    fp32 = TransformersLLM(str(folder), max_new_tokens=3)
    assert dtypes(fp32.network) == {torch.float32}
    bf16 = TransformersLLM(str(folder), max_new_tokens=3, dtype="bf16")
    assert dtypes(bf16.network) == {torch.bfloat16}
    for llm in (fp32, bf16):
        answers = llm.generate(requests)
        assert len(answers) == 2 and all(isinstance(a, str) for a in answers)


def test_llm_context_overflow_is_skipped_and_counted(root, caplog):
    from smner_bench.baselines.providers.cache import AnswerCache
    from smner_bench.baselines.providers.llm import CachedLLM, Request, TransformersLLM

    llm = TransformersLLM(str(tiny.save_causal_lm(root / "llm-short", WORDS, positions=32)), max_new_tokens=4)
    requests = [Request("kobe", key="t1"), Request("paris " * 40, key="t2"), Request("a dog", key="t3")]
    cached = CachedLLM(llm, AnswerCache(root / "cache.jsonl"), batch_size=2)
    answers = cached.generate(requests)
    assert answers[1] == "" and isinstance(answers[0], str) and isinstance(answers[2], str)
    assert cached.skipped == 1 and len(cached.cache) == 2  # counted, and not cached
    assert "tweet t2" in caplog.text and "1 of 3 prompts skipped" in caplog.text
    again = CachedLLM(llm, AnswerCache(root / "cache.jsonl"))
    assert again.generate(requests) == answers and again.hits == 2 and again.skipped == 1


def test_llm_without_a_chat_template_uses_the_plain_format(root):
    from smner_bench.baselines.providers.llm import Request, TransformersLLM, plain_format

    llm = TransformersLLM(str(tiny.save_causal_lm(root / "llm-plain", WORDS, chat_template=False)), max_new_tokens=2)
    assert not getattr(llm.tokenizer, "chat_template", None)
    assert llm._text("Text : kobe\nAnswer:") == "Text : kobe\nAnswer:"
    assert llm._text("describe paris") == plain_format("describe paris") == "describe paris\nAnswer:"
    assert len(llm.generate([Request("kobe")])) == 1


def test_llm_device_map_places_the_model_and_needs_accelerate(root, monkeypatch):
    import importlib.util

    from smner_bench.baselines.providers.llm import Request, TransformersLLM

    folder = tiny.save_causal_lm(root / "llm-placed", WORDS, chat_template=False)
    llm = TransformersLLM(str(folder), device_map="cpu", max_new_tokens=2)  # accelerate is part of [baselines]
    assert llm.device == "cpu"
    assert len(llm.generate([Request("kobe")])) == 1
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "accelerate" else real_find_spec(name, *a)
    )
    with pytest.raises(UsageError, match="needs the accelerate package"):
        TransformersLLM(str(folder), device_map="auto")


# --- the HTTP backend: concurrency as an option, answers streamed ------------------------------------------


@pytest.fixture(scope="module")
def counting_server():
    from .servers import local_endpoint
    from .test_providers import Handler

    class Counting(Handler):
        lock = threading.Lock()
        in_flight = peak = 0

        def do_POST(self):
            with Counting.lock:
                Counting.in_flight += 1
                Counting.peak = max(Counting.peak, Counting.in_flight)
            try:
                super().do_POST()
            finally:
                with Counting.lock:
                    Counting.in_flight -= 1

    with local_endpoint(Counting) as url:
        yield url, Counting


@pytest.mark.parametrize("concurrency", [1, 3])
def test_http_concurrency_option_is_honoured(counting_server, concurrency, tmp_path):
    from smner_bench.baselines.providers.llm import Request, llm_from_spec

    url, handler = counting_server
    handler.peak = 0
    llm = llm_from_spec(f"openai:tiny@{url}", str(tmp_path / "c.jsonl"), dataset="gmner", data_dir=str(tmp_path),
                        split="test", concurrency=concurrency, batch_size=2, progress=False)  # fmt: skip
    assert llm.llm.concurrency == concurrency
    prompts = [f"slow {i}" for i in range(6)]
    assert llm.generate([Request(p) for p in prompts]) == [f"answer to {p}" for p in prompts]
    assert handler.peak == concurrency  # never more in flight, and the option is used in full


def test_http_answers_stream_without_a_barrier(counting_server):
    from smner_bench.baselines.providers.llm import OpenAICompatibleLLM, Request

    url, _ = counting_server
    llm = OpenAICompatibleLLM(url, "tiny", timeout=5, concurrency=2)
    order = [i for i, _ in llm.stream([Request(p) for p in ("slow one", "a", "b", "c", "d")])]
    assert sorted(order) == [0, 1, 2, 3, 4]
    assert order[-1] == 0  # the fast answers arrived (and would be cached) while the slow one was pending
    with pytest.raises(UsageError, match="at least 1"):
        OpenAICompatibleLLM(url, "tiny", concurrency=0)


def test_run_file_dtype_and_llm_options(tmp_path):
    import yaml

    from smner_bench.baselines.run_config import load_run_config
    from smner_bench.benchmark.errors import DataFormatError

    base = {"dataset": "gmner", "data_dir": "d", "split": "test", "images": "i", "out": "o",
            "captions": {"captioner": "transformers:cap", "prompt": "A short image description:"},
            "plim": {"checkpoint": "p"}, "expansion": {"llm": "openai:m@http://127.0.0.1:1/v1", "concurrency": 16},
            "ve": {"checkpoint": "v"}, "vg": {"checkpoint": "g"}}  # fmt: skip
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(base))
    cfg = load_run_config(path)
    assert cfg.dtype == "fp32" and cfg.expansion.concurrency == 16 and cfg.captions.prompt.startswith("A short")
    path.write_text(yaml.safe_dump({**base, "dtype": "bf16"}))
    assert load_run_config(path).dtype == "bf16"
    path.write_text(yaml.safe_dump({**base, "dtype": "fp64"}))
    with pytest.raises(DataFormatError, match="dtype"):
        load_run_config(path)
    path.write_text(yaml.safe_dump({**base, "expansion": {"llm": "x", "concurrency": 0}}))
    with pytest.raises(DataFormatError, match="concurrency"):
        load_run_config(path)
