"""The scorer's commands: ``validate``, ``score``, ``compare`` and ``show`` (options -> the core's library -> print).

Adding their options imports only the registry and the option types: the gold, the submission reader (numpy,
pydantic, pycocotools), the scorer and the visualizer are imported by the command that runs. The gold comes from
the loaders (:func:`smner_bench.loaders.load_gold`: a raw release folder or an export).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from smner_bench.benchmark.cli_options import add_gold_source, add_match
from smner_bench.benchmark.options import int_range, output_path, positive_int, resamples, seed, unit_interval
from smner_bench.benchmark.registry import TASK_NAMES
from smner_bench.benchmark.safe_output import output_file, write_bytes, write_json

if TYPE_CHECKING:
    from smner_bench.benchmark.gold import Gold
    from smner_bench.benchmark.submission import Submission

MAX_SHEET = 100  # tweets on one contact sheet of ``show --errors``


def _common(p: argparse.ArgumentParser) -> None:
    add_gold_source(p)
    p.add_argument("--task", choices=TASK_NAMES, help="task to score (default: the most specific the file supports)")
    p.add_argument("--allow-missing", action="store_true", help="count tweets missing from the file as empty")
    p.add_argument("--max-errors", type=positive_int, default=50, help="how many problems to list (default 50)")


def _scoring(p: argparse.ArgumentParser) -> None:
    p.add_argument("--iou", type=unit_interval, default=0.5, help="IoU threshold of a correct region (default 0.5)")
    add_match(p)
    p.add_argument("--json", metavar="PATH", type=output_path, help="write the report as JSON")
    p.add_argument("--resamples", type=resamples, default=1000, help="bootstrap resamples (default 1000)")
    p.add_argument("--seed", type=seed, default=0, help="bootstrap seed (default 0)")


def _gold(args: argparse.Namespace) -> Gold:
    from smner_bench.loaders import load_gold

    return load_gold(args.dataset, args.split, data_dir=args.data_dir, gold=args.gold)


def _read(args: argparse.Namespace, path: str, gold: Gold) -> Submission:
    from smner_bench.benchmark.submission import InvalidSubmission, Issue, read_submission

    try:
        return read_submission(path, gold, task=args.task, allow_missing=args.allow_missing, max_issues=args.max_errors)
    except InvalidSubmission as exc:
        other = _split_of(args, gold, exc.unknown_ids)
        if other is None:
            raise
        split, found = other
        hint = Issue(exc.file or path, None, "id", f"{found} of its unknown ids are tweets of the {split} split of "
                     f"{gold.dataset}: is it a file of that split? (--split {split})")  # fmt: skip
        raise InvalidSubmission(exc.file or path, [hint, *exc.issues], exc.total + 1) from None


def _split_of(args: argparse.Namespace, gold: Gold, unknown: list[str]) -> tuple[str, int] | None:
    """The other split of the dataset that holds most of a file's unknown ids (at least 90% of them, and 5), with
    their count; None when there is none (or its gold cannot be read)."""
    from smner_bench.benchmark.errors import SmnerError
    from smner_bench.benchmark.registry import SPLITS
    from smner_bench.loaders import load_gold

    ids = set(unknown)
    if len(ids) < 5:
        return None
    for split in SPLITS:
        if split == gold.split:
            continue
        try:
            other = load_gold(gold.dataset, split, data_dir=args.data_dir, gold=args.gold)
        except SmnerError:
            continue
        found = len(ids & other.by_id.keys())
        if found >= 0.9 * len(ids):
            return split, found
    return None


def _inputs(args: argparse.Namespace) -> list[str]:
    """Every path the command reads: a report may never replace one of them."""
    names = ("predictions", "predictions_a", "predictions_b", "data_dir", "gold")
    return [getattr(args, n) for n in names if getattr(args, n, None)]


def _check_json(args: argparse.Namespace) -> None:
    """A refused ``--json`` path fails before the gold is read and the file scored."""
    if args.json:
        output_file(args.json, inputs=_inputs(args))


def cmd_validate(args: argparse.Namespace) -> int:
    gold = _gold(args)
    sub = _read(args, args.predictions, gold)
    print(
        f"{args.predictions}: valid for {gold.name}: {len(sub.seen)} tweets, {len(sub.predictions)} entities; "
        f"tasks {', '.join(sub.tasks())}; spans {'given' if sub.has_spans else 'not on every entity'}"
        + (f"; {len(sub.missing)} tweets missing (counted as empty)" if sub.missing else "")
    )
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from smner_bench.benchmark.scoring import Scorer, format_report

    _check_json(args)
    gold = _gold(args)
    scorer = Scorer.build(_read(args, args.predictions, gold), gold)
    report = scorer.report(args.task, args.match, args.iou)
    if args.ci:
        report = scorer.with_interval(report, resamples=args.resamples, seed=args.seed)
    if args.analysis:
        from smner_bench.benchmark.analysis import analyze

        report = report.model_copy(update={"analysis": analyze(scorer, report)})
    if args.json:  # written before anything is printed: output cut short (| head) never loses the report
        write_json(args.json, report.model_dump(), inputs=_inputs(args))
    print(format_report(report))
    if report.analysis:
        from smner_bench.benchmark.analysis import format_analysis

        print(format_analysis(report.analysis))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from smner_bench.benchmark.scoring import Scorer
    from smner_bench.benchmark.significance import format_p, paired_bootstrap

    _check_json(args)
    gold = _gold(args)
    a = Scorer.build(_read(args, args.predictions_a, gold), gold)
    b = Scorer.build(_read(args, args.predictions_b, gold), gold)
    mode = args.match or ("span" if a.submission.has_spans and b.submission.has_spans else "text")
    task = args.task or min(a.default_task(mode), b.default_task(mode), key=("mner", "gmner", "smner").index)
    for s in (a, b):
        s.check_mode(mode)
        s.tasks(task)
    result = paired_bootstrap(
        a.per_tweet(task, mode, args.iou), b.per_tweet(task, mode, args.iou), resamples=args.resamples, seed=args.seed
    )
    result.update(
        task=task,
        match=mode,
        iou=args.iou,
        dataset=gold.name,
        a={"file": a.submission.file, "sha256": a.submission.sha256},
        b={"file": b.submission.file, "sha256": b.submission.sha256},
    )
    if args.json:  # before printing, as in score
        write_json(args.json, result, inputs=_inputs(args))
    print(f"{gold.name}  task {task}  match {mode}  IoU >= {args.iou}")
    print(f"A {args.predictions_a}: F1 {100 * result['f1_a']:.2f}")
    print(f"B {args.predictions_b}: F1 {100 * result['f1_b']:.2f}")
    print(
        f"A - B = {100 * result['difference']:+.2f} F1, 95% interval [{100 * result['low']:+.2f}, "
        f"{100 * result['high']:+.2f}], "
        + f"{format_p(result['p_value'], args.resamples)} "  # no finer than the resamples resolve
        + f"(paired bootstrap over tweets, {args.resamples} resamples, seed {args.seed})"
    )
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from smner_bench.benchmark.visualize import draw, picture_bytes, picture_format

    picture_format(args.output)  # a bad picture name, or a refused path, fails before the gold is read
    inputs = [args.predictions, args.images, args.data_dir, args.gold]
    output_file(args.output, inputs=inputs)
    options = {"predictions": args.predictions, "images": args.images, "iou": args.iou, "match": args.match}
    picture, drawn = draw(_gold(args), tweet_id=args.id, errors=args.errors, **options)
    if picture is None:
        print("no tweet has an error")
        return 0
    write_bytes(args.output, picture_bytes(picture, args.output), inputs=inputs)
    print(f"wrote {args.output} ({len(drawn)} tweet{'s' * (len(drawn) != 1)})")
    return 0


def options_validate(p: argparse.ArgumentParser) -> None:
    p.add_argument("predictions", help="JSON Lines prediction file")
    _common(p)
    p.set_defaults(func=cmd_validate)


def options_score(p: argparse.ArgumentParser) -> None:
    p.add_argument("predictions", help="JSON Lines prediction file")
    _common(p)
    _scoring(p)
    p.add_argument("--ci", action="store_true", help="add a 95%% bootstrap interval of the main F1")
    p.add_argument(
        "--analysis",
        action="store_true",
        help="add the error analysis: right / type / boundary / both / missed / spurious entities, the type "
        "confusion, macro and weighted averages, region errors (in the table and the --json report)",
    )
    p.set_defaults(func=cmd_score)


def options_compare(p: argparse.ArgumentParser) -> None:
    p.add_argument("predictions_a", metavar="PRED_A")
    p.add_argument("predictions_b", metavar="PRED_B")
    _common(p)
    _scoring(p)
    p.set_defaults(func=cmd_compare)


def options_show(p: argparse.ArgumentParser) -> None:
    add_gold_source(p)
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--id", help="the tweet to draw")
    target.add_argument(
        "--errors",
        type=int_range(1, MAX_SHEET),
        metavar="N",
        help=f"a contact sheet of the N tweets with most errors (N <= {MAX_SHEET})",
    )
    p.add_argument("--predictions", help="a submission to draw beside the gold")
    p.add_argument("--images", help="folder of the tweet images (<id>.jpg); without it a blank canvas")
    p.add_argument("--iou", type=unit_interval, default=0.5, help="IoU threshold in (0, 1] (default 0.5)")
    add_match(p)
    p.add_argument("-o", "--output", required=True, help="picture to write (.png, or .jpg)")
    p.set_defaults(func=cmd_show)
