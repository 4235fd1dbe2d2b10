"""The image sizes of the real Twitter-GMNER release (the ``<size>`` fields of its VOC files), for the benchmark
scripts that make synthetic images at real sizes. The release is read from ``$SMNER_BENCH_DATA`` (default
``../shared/data``, as the tests)."""

from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("SMNER_BENCH_DATA", ROOT.parent / "shared" / "data")).resolve()
GMNER_XML = DATA / "twitter-gmner" / "v2.0" / "xml"
_SIZE = re.compile(r"<size>\s*<width>(\d+)</width>\s*<height>(\d+)</height>")


def release_sizes(folder: Path = GMNER_XML) -> list[tuple[int, int]]:
    """``(width, height)`` of every VOC file in ``folder`` with a positive size, in file-name order."""
    sizes = []
    for path in sorted(folder.glob("*.xml")):
        m = _SIZE.search(path.read_text(encoding="utf-8", errors="replace"))
        if m and int(m.group(1)) > 0 and int(m.group(2)) > 0:
            sizes.append((int(m.group(1)), int(m.group(2))))
    return sizes
