"""One configuration idiom (baselines/config.py): every trainer's, stage's and baseline's config is a pydantic model
that refuses unknown keys and non-finite numbers, reads the same from Python and from YAML, and (trainers) puts a
named preset's values under the fields given."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from smner_bench.baselines.caption_ve import CaptionVeConfig
from smner_bench.baselines.config import Config, PresetConfig
from smner_bench.baselines.expansion import ExpandConfig
from smner_bench.baselines.knowledge import KnowledgeConfig
from smner_bench.baselines.mllm import MllmConfig
from smner_bench.baselines.plim.config import PlimConfig
from smner_bench.baselines.ve import VeConfig
from smner_bench.baselines.vg import VgConfig
from smner_bench.benchmark.errors import DataFormatError

CONFIGS = [PlimConfig, VeConfig, VgConfig, KnowledgeConfig, ExpandConfig, CaptionVeConfig, MllmConfig]


@pytest.mark.parametrize("model", CONFIGS, ids=lambda m: m.__name__)
def test_every_config_is_one_idiom(model):
    assert issubclass(model, Config)
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        model.model_validate({"no_such_setting": 1})
    floats = [n for n, f in model.model_fields.items() if f.annotation in (float, float | None)]
    for name in floats:  # a non-finite number is refused wherever a number goes
        with pytest.raises(ValidationError) as exc:
            model.model_validate({name: float("nan")})
        assert any(e["loc"] == (name,) for e in exc.value.errors()), name


def test_presets_under_the_fields_given_from_python_and_yaml(tmp_path):
    assert issubclass(PlimConfig, PresetConfig) and issubclass(VeConfig, PresetConfig)
    name, values = next(iter(VeConfig.PRESETS.items()))
    changed = next(k for k in values if k != "epochs")
    given = {"base": "b", "data_dir": "d", "images": "i", "out": "o"}
    from_python = VeConfig.from_preset(name, **given, epochs=1)
    assert from_python.epochs == 1 and getattr(from_python, changed) == values[changed]
    path = tmp_path / "ve.yaml"
    path.write_text(f"preset: {name}\nepochs: 1\n" + "".join(f"{k}: {v}\n" for k, v in given.items()))
    assert VeConfig.load(path) == from_python
    path.write_text(path.read_text() + "epochs: 3\n")
    with pytest.raises(DataFormatError, match=r"ve.yaml:\d+: duplicate key 'epochs'"):
        VeConfig.load(path)
    path.write_text("preset: nope\n" + "".join(f"{k}: {v}\n" for k, v in given.items()))
    with pytest.raises(DataFormatError, match="preset: unknown preset 'nope'"):
        VeConfig.load(path)


def test_a_baseline_config_reads_from_yaml_like_from_python(tmp_path):
    path = tmp_path / "mllm.yaml"
    path.write_text("endpoint: http://127.0.0.1:8000/v1\nmodel: m\nshots: 2\n")
    assert MllmConfig.load(path) == MllmConfig(endpoint="http://127.0.0.1:8000/v1", model="m", shots=2)
    path.write_text("endpoint: http://127.0.0.1:8000/v1\nmodel: m\nshots: -1\n")
    with pytest.raises(DataFormatError, match="shots: Input should be greater than or equal to 0"):
        MllmConfig.load(path)
