"""The code blocks of the README and docs/*.md, for tests/test_snippets.py.

A block is a fenced ``bash`` or ``python`` block. It is run as written unless the line right above its fence says
why it cannot be run here::

    <!-- not run: needs a GPU and the BLIP weights -->

(the reason is required). Every block, run or not, is checked: Python compiles, and every ``smner-bench`` command
line of a bash block parses with the real command line (its subcommand exists, its options are known).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = ("README.md", *(f"docs/{p.name}" for p in sorted((ROOT / "docs").glob("*.md"))))
NOT_RUN = re.compile(r"^<!-- not run: (?P<why>\S.*?) -->$")
FENCE = re.compile(r"^```(?P<lang>[a-z]*)\s*$")


@dataclass(frozen=True)
class Block:
    document: str
    line: int  # of the opening fence, 1-based
    lang: str
    code: str
    not_run: str | None  # the reason, when the block is not run

    @property
    def where(self) -> str:
        return f"{self.document}:{self.line}"


def blocks(document: str) -> list[Block]:
    """The fenced bash and python blocks of ``document`` (relative to the repository), in order."""
    lines = (ROOT / document).read_text(encoding="utf-8").splitlines()
    found, i = [], 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        lang = opening["lang"]
        if lang in ("bash", "python"):
            marker = NOT_RUN.match(lines[i - 1].strip()) if i else None
            found.append(Block(document, i + 1, lang, "\n".join(lines[i + 1 : end]) + "\n", marker and marker["why"]))
        i = end + 1
    return found


def all_blocks() -> list[Block]:
    return [b for d in DOCUMENTS for b in blocks(d)]


PLACEHOLDERS = {  # shell values a reader substitutes: any word parses
    "$ENC": "ENC",
    "$DATA": "DATA",
    "$SLURM_ARRAY_TASK_ID": "0",
    "$i": "0",
    "$(which smner-bench)": "smner-bench",
}


def commands(code: str) -> list[list[str]]:
    """The ``smner-bench`` command lines of a bash block, as argument lists (after ``smner-bench``).

    Continuation lines are joined, comments dropped, ``;``/``&&``/``&``/``|`` split commands, and a command
    started through a launcher (``torchrun ... --no-python smner-bench``, ``accelerate launch ... smner-bench``,
    ``--wrap '...'``) counts from the word ``smner-bench`` on."""
    text = code.replace("\\\n", " ")
    for placeholder, value in PLACEHOLDERS.items():
        text = text.replace(placeholder, value)
    found = []
    for line in text.splitlines():
        if line.lstrip().startswith(("vllm ", "cat ", "pip ", "make ", "python ", "jid=", "sbatch --parsable")):
            line = line if "smner-bench" in line and "--wrap" in line else ""
        try:
            words = shlex.split(line, comments=True)
        except ValueError:  # a here-document body line
            continue
        words = [w for part in words for w in _unwrap(part)]
        command: list[str] | None = None
        for word in words:
            if word in (";", "&&", "&", "|", "||", "done", "wait"):
                if command is not None:
                    found.append(command)
                command = None
            elif word.endswith("smner-bench") and command is None:
                command = []
            elif command is not None:
                command.append(word.rstrip(";"))
        if command is not None:
            found.append(command)
    return found


def _unwrap(word: str) -> list[str]:
    """A ``--wrap 'smner-bench ...'`` value's own words; other words as they are."""
    return shlex.split(word) if word.startswith("smner-bench ") else [word]
