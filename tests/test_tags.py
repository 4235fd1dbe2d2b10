import pytest

from smner_bench.benchmark.tags import TAG_NAMES, normalize_type, tags_to_spans


@pytest.mark.parametrize(
    ("tags", "spans", "repairs"),
    [
        ([], [], []),
        (["O", "O"], [], []),
        (["B-PER", "I-PER", "O"], [(0, 2, "PER")], []),
        (["B-PER", "B-PER"], [(0, 1, "PER"), (1, 2, "PER")], []),
        (["I-LOC", "I-LOC"], [(0, 2, "LOC")], [0]),  # I at the start begins an entity
        (["O", "I-ORG", "O"], [(1, 2, "ORG")], [1]),
        (["B-PER", "I-LOC"], [(0, 1, "PER"), (1, 2, "LOC")], [1]),  # type change starts a new one
        (["B-OTHER", "I-OTHER", "I-OTHER"], [(0, 3, "OTHER")], []),
        (["B-LOC", "O", "B-LOC", "I-LOC"], [(0, 1, "LOC"), (2, 4, "LOC")], []),
    ],
)
def test_tags_to_spans_follows_conlleval(tags, spans, repairs):
    assert tags_to_spans(tags) == (spans, repairs)


def test_tag_names_and_types():
    assert TAG_NAMES == ("O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-OTHER", "I-OTHER")
    assert normalize_type("MISC") == "OTHER"
    assert normalize_type("per") is None
