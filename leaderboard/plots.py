"""The plots of a board page (matplotlib SVG) and where their labels landed.

- Precision against recall: one point per row that has both, labelled with the row's rank in the table (the
  same number the table's ``#`` column prints). Labels are placed by :func:`place_labels` from matplotlib's own
  text extents: each inside the axes, none over another label or a point; a label set away from its point gets
  a leader line.
- F1 against the IoU threshold of the rows that carry a sweep, and F1 per entity type of the rows that carry
  per-type figures: one legend entry per row, ``<rank>. <system>``, so two rows of one system stay apart.

Each plot is written with a JSON sidecar (``<plot>.json``: the axes box, every label's box, text and row, the
legend's texts) measured on the drawn figure; the SVG names the same objects (``id="pr-label-<rank>"``,
``id="pr-axes"``), so a browser can check the picture itself.
"""

from __future__ import annotations

import io
import json
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

from smner_bench.benchmark.safe_output import write_bytes, write_text

from .escape import PLOT_RC, plot_text
from .render import Row

LABEL_SIZE = 8  # points
RADII = (3, 6, 10, 15, 22, 30, 40, 55)  # label offsets from the point tried in turn, in points
DIRECTIONS = 16  # angles tried at each radius, the upper right first
LEADER_FROM = 10  # a label placed at least this far (points) gets a line to its point


@dataclass(frozen=True)
class Plot:
    file: str  # the SVG's file name
    caption: str


def _overlaps(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def _inside(box, frame) -> bool:
    return frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1


def place_labels(ax, points: list[tuple[float, float, str]]) -> list:
    """Annotate each ``(x, y, text)`` point of ``ax`` with its text where the text's box lies inside the axes
    and overlaps no other label and no point: the first free place on rings around the point (:data:`RADII`,
    :data:`DIRECTIONS`), else the free place nearest to it on a grid over the axes. Returns the annotations,
    in the order of ``points``. Raises ``ValueError`` if a label fits nowhere (the axes are full)."""
    from matplotlib.transforms import Bbox

    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer).shrunk(1, 1)
    frame = Bbox.from_extents(frame.x0 + 1, frame.y0 + 1, frame.x1 - 1, frame.y1 - 1)
    px = fig.dpi / 72  # pixels per point
    anchors = [ax.transData.transform((x, y)) for x, y, _ in points]
    marker = 3 * px  # half the side of a point's box
    taken = [Bbox.from_extents(u - marker, v - marker, u + marker, v + marker) for u, v in anchors]
    out = []
    for (x, y, text), (u, v) in zip(points, anchors, strict=True):
        label = ax.annotate(text, (x, y), xytext=(0, 0), textcoords="offset points", fontsize=LABEL_SIZE)

        def fits(dx: float, dy: float, label=label):
            return _free_box(label, dx, dy, renderer, frame, taken)

        found = None
        for radius in RADII:
            for k in range(DIRECTIONS):
                angle = math.pi / 4 + 2 * math.pi * k / DIRECTIONS
                found = fits(radius * math.cos(angle), radius * math.sin(angle))
                if found is not None:
                    offset = (radius * math.cos(angle), radius * math.sin(angle))
                    break
            if found is not None:
                break
        if found is None:  # the nearest free place anywhere in the axes
            step = LABEL_SIZE * px
            places = [
                ((gx - u) / px, (gy - v) / px)
                for gx in _steps(frame.x0, frame.x1, step)
                for gy in _steps(frame.y0, frame.y1, step)
            ]
            for dx, dy in sorted(places, key=lambda d: d[0] ** 2 + d[1] ** 2):
                found = fits(dx, dy)
                if found is not None:
                    offset = (dx, dy)
                    break
        if found is None:
            raise ValueError(f"no free place for the label {text!r} inside the axes")
        if math.hypot(*offset) >= LEADER_FROM:
            ha, va = label.get_ha(), label.get_va()
            label.remove()
            label = ax.annotate(
                text,
                (x, y),
                xytext=offset,
                textcoords="offset points",
                fontsize=LABEL_SIZE,
                ha=ha,
                va=va,
                arrowprops={"arrowstyle": "-", "color": "0.55", "lw": 0.6, "shrinkA": 1, "shrinkB": 3},
            )
        taken.append(found)
        out.append(label)
    return out


def _free_box(label, dx: float, dy: float, renderer, frame, taken: list):
    """Move ``label`` to the offset ``(dx, dy)`` points (aligned away from its point); its box when that lies
    inside ``frame`` and on none of ``taken``, else None."""
    angle = math.atan2(dy, dx)
    label.set_ha("left" if math.cos(angle) > 0.3 else "right" if math.cos(angle) < -0.3 else "center")
    label.set_va("bottom" if math.sin(angle) > 0.3 else "top" if math.sin(angle) < -0.3 else "center")
    label.set_position((dx, dy))
    box = label.get_window_extent(renderer)
    return box if _inside(box, frame) and not any(_overlaps(box, t) for t in taken) else None


def _steps(low: float, high: float, step: float) -> list[float]:
    n = max(1, int((high - low) / step))
    return [low + (high - low) * (i + 0.5) / n for i in range(n)]


def text_box(label, renderer):
    """The box of a label's text alone (an annotation's own extent includes its leader line)."""
    from matplotlib.text import Text

    return Text.get_window_extent(label, renderer)


def _box(bbox) -> list[float]:
    return [round(bbox.x0, 2), round(bbox.y0, 2), round(bbox.x1, 2), round(bbox.y1, 2)]


def draw_plots(stem: str, task: str, dataset_title: str, rows: list[Row], folder: Path) -> list[Plot]:
    """Write the SVG plots of one board (``<stem>-pr.svg``, ``-iou``, ``-types``, each with its ``.json``
    sidecar) into ``folder``; ``rows`` in table order (rank = position + 1)."""
    import matplotlib

    matplotlib.use("Agg")
    with matplotlib.rc_context(PLOT_RC), warnings.catch_warnings():
        # a name in a script the font lacks is drawn with boxes, without a warning per glyph on the console
        warnings.filterwarnings("ignore", r"Glyph \d+ .* missing from", UserWarning)
        return _draw(stem, task, dataset_title, rows, folder)


def _draw(stem: str, task: str, dataset_title: str, rows: list[Row], folder: Path) -> list[Plot]:
    import matplotlib.pyplot as plt

    out = []

    def save(fig, kind: str, caption: str, sidecar: dict) -> None:
        name = f"{stem}-{kind}.svg"
        buffer = io.BytesIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
        plt.close(fig)
        write_bytes(folder / name, buffer.getvalue())
        write_text(folder / f"{stem}-{kind}.json", json.dumps(sidecar, indent=1, ensure_ascii=False) + "\n")
        out.append(Plot(name, caption))

    ranked = list(enumerate(rows, start=1))
    pr = [
        (rank, r.entry) for rank, r in ranked if r.entry.main.precision is not None and r.entry.main.recall is not None
    ]
    if pr:
        fig, ax = plt.subplots(figsize=(6.4, 5))
        xs = [e.main.recall for _, e in pr]
        ys = [e.main.precision for _, e in pr]
        for (rank, e), x, y in zip(pr, xs, ys, strict=True):
            ax.scatter([x], [y], s=18, color="#1f77b4" if e.provenance.kind == "publication" else "#2ca02c",
                       zorder=3, gid=f"pr-point-{rank}")  # fmt: skip
        pad_x = max(2.0, 0.12 * (max(xs) - min(xs)))
        pad_y = max(2.0, 0.12 * (max(ys) - min(ys)))
        ax.set_xlim(max(0, min(xs) - pad_x), min(100, max(xs) + pad_x))
        ax.set_ylim(max(0, min(ys) - pad_y), min(100, max(ys) + pad_y))
        ax.set_xlabel("recall (%)")
        ax.set_ylabel("precision (%)")
        ax.set_title(plot_text(f"Precision / recall: {task.upper()} on {dataset_title}"), fontsize=10)
        ax.grid(alpha=0.3)
        ax.patch.set_gid("pr-axes")
        labels = place_labels(ax, [(x, y, str(rank)) for (rank, _), x, y in zip(pr, xs, ys, strict=True)])
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        for (rank, _), label in zip(pr, labels, strict=True):
            label.set_gid(f"pr-label-{rank}")
        sidecar = {
            "axes": _box(ax.get_window_extent(renderer)),
            "labels": [
                {"rank": rank, "entry": e.id, "text": label.get_text(), "box": _box(text_box(label, renderer))}
                for (rank, e), label in zip(pr, labels, strict=True)
            ],
        }
        save(
            fig,
            "pr",
            "Precision against recall of every row that prints both; each number is the row's rank (#) in the "
            "table; green points are submissions scored here.",
            sidecar,
        )
    swept = [(rank, r.entry) for rank, r in ranked if r.entry.sweep]
    if swept:
        fig, ax = plt.subplots(figsize=(6.4, 4.5))
        for rank, e in swept:
            ax.plot([p.threshold for p in e.sweep], [p.f1 for p in e.sweep], marker="o", ms=3,
                    label=plot_text(f"{rank}. {e.system}"))  # fmt: skip
        ax.set_xlabel("IoU threshold")
        ax.set_ylabel(f"{task.upper()} F1 (%)")
        ax.set_title("Sensitivity to the IoU threshold", fontsize=10)
        ax.grid(alpha=0.3)
        legend = ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0)
        save(
            fig,
            "iou",
            "F1 against the IoU threshold (0.50:0.05:0.95) of the submissions scored here; the legend gives each "
            "row's rank in the table.",
            {"legend": [t.get_text() for t in legend.get_texts()]},
        )
    typed = [(rank, r.entry) for rank, r in ranked if r.entry.per_type]
    if typed:
        fig, ax = plt.subplots(figsize=(6.4, 4.5))
        kinds = ["PER", "LOC", "ORG", "OTHER"]
        width = 0.8 / len(typed)
        for i, (rank, e) in enumerate(typed):
            values = [e.per_type[k].f1 for k in kinds]
            ax.bar([j + i * width for j in range(4)], values, width=width, label=plot_text(f"{rank}. {e.system}"))
        ax.set_xticks([j + 0.4 - width / 2 for j in range(4)], kinds)
        ax.set_xlabel("entity type")
        ax.set_ylabel(f"{task.upper()} F1 (%)")
        ax.set_title("F1 per entity type", fontsize=10)
        legend = ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0)
        save(
            fig,
            "types",
            "F1 per entity type (the groups on the axis) of the rows that give it; one bar and one legend entry per "
            "row, with its rank in the table.",
            {"legend": [t.get_text() for t in legend.get_texts()]},
        )
    return out
