"""smner-bench core: tasks, data model constants, tag decoding, errors and the command line.

This package never imports the other parts (loaders, baselines, leaderboard) nor torch.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("smner-bench")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0+unknown"
