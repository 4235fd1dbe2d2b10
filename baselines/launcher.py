"""What the launcher says about this process: its shard of the work and its device.

``torchrun`` and ``accelerate launch`` set ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK``; a SLURM job array sets
``SLURM_ARRAY_TASK_COUNT``, ``SLURM_ARRAY_TASK_ID`` and ``SLURM_ARRAY_TASK_MIN``. The runner takes its
``--num-shards``/``--shard-index`` from them when they are not given, and ``device: cuda`` means the process's own
GPU (``cuda:$LOCAL_RANK``). Pure functions of the environment mapping, so they are tested without a launcher.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from smner_bench.benchmark.errors import UsageError


def _int(environ: Mapping[str, str], name: str) -> int:
    text = environ[name].strip()
    if not text.isdigit() or len(text) > 9:
        raise UsageError(f"the environment variable {name}={environ[name][:20]!r} is not a non-negative integer")
    return int(text)


def launcher_shards(environ: Mapping[str, str] | None = None) -> tuple[int, int] | None:
    """``(num_shards, shard_index)`` from torchrun/accelerate (``WORLD_SIZE``, ``RANK``) or a SLURM array
    (``SLURM_ARRAY_TASK_COUNT``, ``SLURM_ARRAY_TASK_ID`` - ``SLURM_ARRAY_TASK_MIN``); None without a launcher.

    >>> launcher_shards({"WORLD_SIZE": "4", "RANK": "2"})
    (4, 2)
    >>> launcher_shards({"SLURM_ARRAY_TASK_COUNT": "8", "SLURM_ARRAY_TASK_ID": "11", "SLURM_ARRAY_TASK_MIN": "10"})
    (8, 1)
    >>> launcher_shards({}) is None
    True
    """
    environ = os.environ if environ is None else environ
    if "WORLD_SIZE" in environ and "RANK" in environ:
        size, rank = _int(environ, "WORLD_SIZE"), _int(environ, "RANK")
        source = "WORLD_SIZE/RANK"
    elif "SLURM_ARRAY_TASK_COUNT" in environ and "SLURM_ARRAY_TASK_ID" in environ:
        size = _int(environ, "SLURM_ARRAY_TASK_COUNT")
        low = _int(environ, "SLURM_ARRAY_TASK_MIN") if "SLURM_ARRAY_TASK_MIN" in environ else 0
        rank = _int(environ, "SLURM_ARRAY_TASK_ID") - low
        source = "SLURM_ARRAY_TASK_COUNT/SLURM_ARRAY_TASK_ID (array ids must be MIN..MIN+COUNT-1, step 1)"
    else:
        return None
    if size < 1 or not 0 <= rank < size:
        raise UsageError(f"the launcher's {source} give shard {rank} of {size}: not a shard of the run")
    return size, rank


def local_device(device: str, environ: Mapping[str, str] | None = None) -> str:
    """The device this process uses: a bare ``cuda`` becomes ``cuda:$LOCAL_RANK`` under a launcher that sets it
    (one process per GPU); anything else (``cpu``, ``cuda:1``, ``mps``) is kept as given.

    >>> local_device("cuda", {"LOCAL_RANK": "3"}), local_device("cuda", {}), local_device("cpu", {"LOCAL_RANK": "3"})
    ('cuda:3', 'cuda', 'cpu')
    """
    environ = os.environ if environ is None else environ
    if device == "cuda" and "LOCAL_RANK" in environ:
        return f"cuda:{_int(environ, 'LOCAL_RANK')}"
    return device


def resolve_shards(num_shards: int | None, shard_index: int | None, environ: Mapping[str, str] | None = None):
    """The shard this process runs: the options when given, else the launcher's, else the whole split (1, 0).
    An index given without a count, or a count that differs from the launcher's with no index, is a usage error.

    >>> env = {"WORLD_SIZE": "2", "RANK": "1"}
    >>> resolve_shards(None, None, env), resolve_shards(4, 3, env)
    ((2, 1), (4, 3))
    >>> resolve_shards(None, None, {})
    (1, 0)
    """
    launched = launcher_shards(environ)
    if num_shards is not None and shard_index is not None:
        return num_shards, shard_index
    if num_shards is None and shard_index is not None:
        raise UsageError("--shard-index needs --num-shards")
    if launched is None:
        return (num_shards or 1), 0
    if num_shards is not None and num_shards != launched[0]:
        raise UsageError(
            f"--num-shards {num_shards} without --shard-index, but the launcher runs {launched[0]} processes: "
            "give --shard-index, or drop --num-shards to follow the launcher"
        )
    return launched


def is_main_process(environ: Mapping[str, str] | None = None) -> bool:
    """Whether this is the launcher's rank 0 (or no launcher): the process that writes a training's files.

    >>> is_main_process({"RANK": "1", "WORLD_SIZE": "2"}), is_main_process({})
    (False, True)
    """
    environ = os.environ if environ is None else environ
    return "RANK" not in environ or _int(environ, "RANK") == 0
