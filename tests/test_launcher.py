"""What the launcher says: shards from torchrun/accelerate or a SLURM array, the process's own GPU."""

from __future__ import annotations

import pytest

from smner_bench.baselines.launcher import launcher_shards, local_device, resolve_shards
from smner_bench.benchmark.errors import UsageError


def test_shards_from_torchrun_accelerate_and_slurm():
    assert launcher_shards({"WORLD_SIZE": "8", "RANK": "5", "LOCAL_RANK": "1"}) == (8, 5)
    assert launcher_shards({"SLURM_ARRAY_TASK_COUNT": "4", "SLURM_ARRAY_TASK_ID": "3"}) == (4, 3)
    slurm = {"SLURM_ARRAY_TASK_COUNT": "4", "SLURM_ARRAY_TASK_ID": "7", "SLURM_ARRAY_TASK_MIN": "5"}
    assert launcher_shards(slurm) == (4, 2)
    both = {"WORLD_SIZE": "2", "RANK": "1", **slurm}  # torchrun inside an array task: the ranks split the work
    assert launcher_shards(both) == (2, 1)
    assert launcher_shards({"SLURM_JOB_ID": "9"}) is None


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"WORLD_SIZE": "two", "RANK": "0"}, "WORLD_SIZE='two' is not a non-negative integer"),
        ({"WORLD_SIZE": "2", "RANK": "-1"}, "RANK='-1' is not a non-negative integer"),
        ({"WORLD_SIZE": "2", "RANK": "2"}, "give shard 2 of 2"),
        ({"WORLD_SIZE": "0", "RANK": "0"}, "give shard 0 of 0"),
        ({"SLURM_ARRAY_TASK_COUNT": "4", "SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_MIN": "2"}, "shard -1 of 4"),
        ({"SLURM_ARRAY_TASK_COUNT": "2", "SLURM_ARRAY_TASK_ID": "9"}, "step 1"),
        ({"WORLD_SIZE": "9" * 40, "RANK": "0"}, "is not a non-negative integer"),
    ],
)
def test_impossible_launcher_variables_are_usage_errors(environ, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(")) as err:
        launcher_shards(environ)
    assert err.value.exit_code == 2 and len(str(err.value)) < 200


def test_options_win_and_follow_the_launcher_otherwise():
    env = {"WORLD_SIZE": "4", "RANK": "3"}
    assert resolve_shards(None, None, env) == (4, 3)
    assert resolve_shards(2, 0, env) == (2, 0)
    assert resolve_shards(4, None, env) == (4, 3)
    assert resolve_shards(None, None, {}) == (1, 0)
    assert resolve_shards(3, None, {}) == (3, 0)
    with pytest.raises(UsageError, match="needs --num-shards"):
        resolve_shards(None, 1, env)
    with pytest.raises(UsageError, match="the launcher runs 4 processes"):
        resolve_shards(2, None, env)


def test_cuda_means_the_process_own_gpu():
    assert local_device("cuda", {"LOCAL_RANK": "3"}) == "cuda:3"
    assert local_device("cuda", {}) == "cuda"
    assert local_device("cuda:1", {"LOCAL_RANK": "3"}) == "cuda:1"
    assert local_device("cpu", {"LOCAL_RANK": "3"}) == "cpu"
    with pytest.raises(UsageError, match="LOCAL_RANK"):
        local_device("cuda", {"LOCAL_RANK": "x"})
