"""Tests of rain_guard.eval dataset loading against the shared data and SOURCES.md."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import pytest

from rain_guard.eval import (
    DataNotFoundError,
    DatasetError,
    EvalItem,
    dataset_file,
    dataset_names,
    hash_split,
    load_dataset,
    load_hh_pairs,
    load_prompt_file,
    load_xstest_completions,
    resolve_data_dir,
)
from rain_guard.eval.hh_pairs import first_human_turn, last_assistant_turn
from rain_guard.eval.splits import split_entry

try:
    DATA = resolve_data_dir()
except DataNotFoundError:  # pragma: no cover - the shared data is part of the project setup
    DATA = None
needs_data = pytest.mark.skipif(DATA is None, reason="shared evaluation data not found")

# (name, rows, dev, eval) from SOURCES.md's split table.
COUNTS = [
    ("advbench", 520, 110, 410),
    ("advbench-gcg", 100, 25, 75),
    ("harmbench", 400, 82, 318),
    ("jailbreakbench", 100, 27, 73),
    ("jailbreakbench-gcg", 200, 54, 146),
    ("xstest", 450, 93, 357),
    ("xstest-safe", 250, 58, 192),
    ("xstest-unsafe", 200, 35, 165),
    ("hh-harmless", 2312, 473, 1839),
    ("truthfulqa", 817, 150, 667),
]


def _split_key(item: EvalItem) -> str:
    """The text the hash rule uses for each file (SOURCES.md's key column)."""
    if item.dataset in ("advbench-gcg", "jailbreakbench-gcg"):
        return item.meta["goal"]
    if item.dataset == "harmbench":
        return item.meta["behavior"]
    return item.prompt


@needs_data
@pytest.mark.parametrize(("name", "rows", "dev", "eval_"), COUNTS)
def test_counts_match_sources_table(name: str, rows: int, dev: int, eval_: int) -> None:
    assert len(load_dataset(name, split="all")) == rows
    assert len(load_dataset(name, split="dev")) == dev
    assert len(load_dataset(name, split="eval")) == eval_
    assert load_dataset(name) == load_dataset(name, split="dev")


@needs_data
@pytest.mark.parametrize("name", dataset_names())
def test_split_matches_dev_splits_json_and_recomputed_hash(name: str) -> None:
    items = load_dataset(name, split="all")
    _, dev_rows = split_entry(DATA, dataset_file(name))
    assert [i.index for i in items] == sorted(i.index for i in items)
    for item in items:
        assert item.split == ("dev" if item.index in dev_rows else "eval")
        assert item.split == hash_split(_split_key(item))
        assert item.prompt.strip()


@needs_data
def test_truthfulqa_bom_is_stripped() -> None:
    assert (DATA / dataset_file("truthfulqa")).read_bytes().startswith(b"\xef\xbb\xbf")
    item = load_dataset("truthfulqa", limit=1)[0]
    assert not item.prompt.startswith("\ufeff")
    assert item.meta["type"] in ("Adversarial", "Non-Adversarial")
    assert item.label is None and item.meta["correct_answers"]


@needs_data
def test_labels_and_prompt_construction() -> None:
    xs = load_dataset("xstest", split="all")
    assert Counter(i.label for i in xs) == {"safe": 250, "unsafe": 200}
    assert all(i.label == "unsafe" for i in xs if i.meta["type"].startswith("contrast_"))
    assert Counter(i.label for i in load_dataset("xstest")) == {"safe": 58, "unsafe": 35}
    for item in load_dataset("advbench-gcg"):
        assert item.prompt == f"{item.meta['goal']} {item.meta['controls']}"
        assert item.index == item.meta["advbench_row"]
    for item in load_dataset("jailbreakbench-gcg"):
        assert item.prompt.endswith(" " + item.meta["controls"])
    hb = load_dataset("harmbench", split="all")
    assert Counter(i.meta["functional_category"] for i in hb) == {
        "standard": 200,
        "contextual": 100,
        "copyright": 100,
    }
    for item in hb:
        context, behavior = item.meta["context"], item.meta["behavior"]
        assert bool(context) == (item.meta["functional_category"] == "contextual")
        assert item.prompt == (f"{context}\n\n---\n\n{behavior}" if context else behavior)
    assert {i.label for i in load_dataset("advbench")} == {"unsafe"}
    assert {i.label for i in load_dataset("hh-harmless")} == {None}


@needs_data
def test_limit_and_errors(tmp_path: Path) -> None:
    assert len(load_dataset("advbench", split="eval", limit=3)) == 3
    assert load_dataset("advbench", limit=0) == []
    with pytest.raises(DatasetError, match="known: advbench"):
        load_dataset("advbenchh")
    with pytest.raises(DatasetError, match="split"):
        load_dataset("advbench", split="test")  # type: ignore[arg-type]
    with pytest.raises(DatasetError):
        load_dataset("advbench", limit=-1)
    missing = tmp_path / "nowhere"
    with pytest.raises(DataNotFoundError, match="nowhere") as caught:
        load_dataset("advbench", data_dir=missing)
    assert isinstance(caught.value, FileNotFoundError)
    with pytest.raises(DataNotFoundError, match="harmful_behaviors.csv"):
        load_dataset("advbench", data_dir=tmp_path)


def test_env_var_names_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAIN_GUARD_DATA", str(tmp_path / "gone"))
    with pytest.raises(DataNotFoundError, match="RAIN_GUARD_DATA.*gone"):
        resolve_data_dir()
    monkeypatch.setenv("RAIN_GUARD_DATA", str(tmp_path))
    assert resolve_data_dir() == tmp_path


@needs_data
def test_xstest_completions() -> None:
    rows = load_xstest_completions(split="all")
    assert len(rows) == 900
    llama, mistral = rows[:450], rows[450:]
    assert Counter(r.final_label for r in llama) == {
        "1_full_compliance": 101,
        "2_full_refusal": 294,
        "3_partial_refusal": 55,
    }
    assert Counter(r.final_label for r in mistral) == {
        "1_full_compliance": 374,
        "2_full_refusal": 49,
        "3_partial_refusal": 27,
    }
    assert Counter(r.prompt_type for r in llama) == {"safe": 250, "unsafe": 200}
    dev = load_xstest_completions(models=("mistralinstruct",))
    assert len(dev) == 93 and Counter(r.prompt_type for r in dev) == {"safe": 58, "unsafe": 35}
    prompt, completion, prompt_type, label = dev[0]
    assert isinstance(completion, str) and prompt_type in ("safe", "unsafe")
    with pytest.raises(DatasetError, match="gpt4"):
        load_xstest_completions(models=("gpt4",))


@needs_data
def test_hh_pairs_match_prompt_file() -> None:
    pairs = load_hh_pairs(split="all")
    assert len(pairs) == 2312
    with (DATA / "hh_rlhf/harmless_base_test_prompts.jsonl").open(encoding="utf-8") as handle:
        prompt_rows = [json.loads(line) for line in handle]
    assert [p.prompt for p in pairs] == [r["prompt"] for r in prompt_rows]
    assert len(load_hh_pairs()) == 473
    assert len(load_hh_pairs(limit=5)) == 5
    single = load_hh_pairs(split="all", single_turn_only=True)
    assert len(single) == sum(r["n_human_turns_in_dialogue"] == 1 for r in prompt_rows)
    with gzip.open(DATA / "hh_rlhf/harmless-base_test.jsonl.gz", "rt", encoding="utf-8") as fh:
        first = json.loads(fh.readline())
    assert first["chosen"].rstrip().endswith(pairs[0].chosen)
    assert first["rejected"].rstrip().endswith(pairs[0].rejected)


def test_dialogue_parsing() -> None:
    dialogue = "\n\nHuman: Hi there?\n\nAssistant: Hello.\n\nHuman: More?\n\nAssistant:  Sure. "
    assert first_human_turn(dialogue) == "Hi there?"
    assert last_assistant_turn(dialogue) == "Sure."
    assert last_assistant_turn("\n\nHuman: a\n\nAssistant: b\n\nHuman: c") == "b"
    with pytest.raises(DatasetError):
        first_human_turn("no dialogue")


def test_load_prompt_file_csv_and_jsonl(tmp_path: Path) -> None:
    csv_path = tmp_path / "mine.csv"
    csv_path.write_text("\ufeffprompt,label,topic\nHow do I bake bread?,safe,food\n", "utf-8")
    (item,) = load_prompt_file(csv_path)
    assert item == EvalItem(
        "mine", 0, "How do I bake bread?", hash_split(item.prompt), "safe", {"topic": "food"}
    )
    assert item.meta == {"topic": "food"}
    jsonl_path = tmp_path / "mine.jsonl"
    jsonl_path.write_text('{"text": "a, b"}\n\n{"text": "c"}\n', "utf-8")
    items = load_prompt_file(jsonl_path, column="text", dataset="x")
    assert [(i.dataset, i.index, i.prompt, i.label) for i in items] == [
        ("x", 0, "a, b", None),
        ("x", 1, "c", None),
    ]
    with pytest.raises(DatasetError, match=r"columns found: \['prompt', 'label', 'topic'\]"):
        load_prompt_file(csv_path, column="question")
    with pytest.raises(DataNotFoundError):
        load_prompt_file(tmp_path / "absent.csv")
    (tmp_path / "bad.txt").write_text("x", "utf-8")
    with pytest.raises(DatasetError, match="unsupported"):
        load_prompt_file(tmp_path / "bad.txt")
