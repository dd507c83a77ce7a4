"""The LogQA evaluation's evidence counting (bench/logqa.py): exact and equivalent lines."""

from ai_service.search.opensearch_search import Hit
from bench.logqa import (
    LogLine,
    equivalent,
    equivalent_lines,
    first_equivalent_rank,
    parse_line,
    words,
)

BLOCK = "BLOCK* NameSystem.addStoredBlock: blockMap updated: <*> is added to <*> size <*>"
FINISHED = "Finished task <*> in stage <*> (TID <*>). <*> bytes result sent to driver"
RUNNING = "Running task <*> in stage <*> (TID <*>)"
ROWS = [
    ("BLOCK* NameSystem.addStoredBlock: blockMap updated: 10.0.0.1:50010 is added to blk_1 size 64", "E6", BLOCK),
    ("BLOCK* NameSystem.addStoredBlock: blockMap updated: 10.0.0.2:50010 is added to blk_2 size 64", "E6", BLOCK),
    ("Finished task 5.0 in stage 29.0 (TID 1325). 2171 bytes result sent to driver", "E10", FINISHED),
    ("Finished task 15.0 in stage 5.0 (TID 1200). 2171 bytes result sent to driver", "E10", FINISHED),
    ("Finished task 5.0 in stage 28.0 (TID 1285). 2087 bytes result sent to driver", "E10", FINISHED),
    ("Finished task 5.0 in stage 5.0 (TID 1205). 2087 bytes result sent to driver", "E10", FINISHED),
    ("Running task 5.0 in stage 29.0 (TID 1325)", "E11", RUNNING),
]  # fmt: skip
LINES = {content: parse_line(content, event_id, template) for content, event_id, template in ROWS}
BLOCK_1, BLOCK_2, TASK_5_29, TASK_15, TASK_5_28, TASK_5_5, RUNNING_5 = (row[0] for row in ROWS)


def test_lines_are_parsed_into_their_template_values() -> None:
    assert LINES[TASK_5_29] == LogLine("E10", ("5.0", "29.0", "1325", "2171"))
    assert parse_line("no match", "E1", "Other <*> text") == LogLine("E1:no match", ())


def test_words_keep_dotted_values_whole() -> None:
    assert words("What stage was task 5.0 in?") == {"what", "stage", "was", "task", "5.0", "in"}
    assert words("from /10.0.0.1:50010") == {"from", "10.0.0.1", "50010"}
    assert words("block blk_-42?") == {"block", "blk", "42"}


def test_a_value_split_from_its_prefix_by_the_template_still_counts_as_named() -> None:
    template = "PacketResponder <*> for block blk_<*> terminating"
    lines = {
        c: parse_line(c, "E11", template)
        for c in (
            "PacketResponder 1 for block blk_-42 terminating",
            "PacketResponder 1 for block blk_7 terminating",
        )
    }
    gold, other = lines
    assert lines[gold].params == ("1", "-42")
    assert not equivalent("What is the status of block blk_-42?", gold, other, lines)
    assert equivalent("What is the status of a packet responder?", gold, other, lines)


def test_a_question_naming_no_instance_accepts_any_line_of_the_template() -> None:
    q = "What is the blockMap updated to?"
    assert equivalent(q, BLOCK_1, BLOCK_2, LINES)
    assert equivalent_lines(q, BLOCK_1, LINES) == 2


def test_a_named_instance_must_be_in_the_same_place() -> None:
    assert not equivalent("Where was blk_1 added?", BLOCK_1, BLOCK_2, LINES)
    q = "What stage was task 5.0 in?"
    assert equivalent(q, TASK_5_29, TASK_5_28, LINES)  # task 5.0 ran in several stages
    assert equivalent(q, TASK_5_29, TASK_5_5, LINES)  # "5.0" also as its stage: still task 5.0
    assert not equivalent(q, TASK_5_29, TASK_15, LINES)  # "5.0" is its stage, not its task...
    assert not equivalent(q, TASK_5_29, RUNNING_5, LINES)  # ...and another template never counts
    assert equivalent_lines("Which stage finished task 5.0 with TID 1325?", TASK_5_29, LINES) == 1


def test_first_equivalent_rank() -> None:
    hits = [Hit(str(i), "x", 1.0, {"message": m}) for i, m in enumerate([RUNNING_5, TASK_15, TASK_5_28])]
    assert first_equivalent_rank(hits, "What stage was task 5.0 in?", TASK_5_29, LINES) == 3
    assert first_equivalent_rank(hits, "unknown", "a line not in the data", LINES) is None
