"""Which tokens carry loss in `train sft`, token by token, and that `train preview` shows the
trainer's own labels."""

import pytest
from transformers import AutoTokenizer

from curate.sinks import write_records
from curate.records import Example, Preference
from train.data import conversation, sft_row
from train.sft import SFTSettings, build_sft_trainer

MULTI_TURN = Example(instruction="Now into German?", output="Das Wetter ist schön.", system="Translate.",
                     history=[("Into French?", "Il fait beau."), ("Into Spanish?", "Buen tiempo.")])


def runs(row):
    return row["input_ids"], row["assistant_masks"]


def trained_runs(tokenizer, input_ids, mask):
    """The runs of trained tokens, decoded: one string per contiguous run."""
    out, current = [], []
    for token, bit in zip(input_ids, mask):
        if bit:
            current.append(token)
        elif current:
            out.append(tokenizer.decode(current))
            current = []
    if current:
        out.append(tokenizer.decode(current))
    return out


def test_every_assistant_turn_and_nothing_else_carries_loss(tiny_tokenizer_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_tokenizer_dir)
    row = sft_row(tokenizer, conversation(MULTI_TURN), "all")
    assert trained_runs(tokenizer, *runs(row)) == [
        "Il fait beau.<|im_end|>\n", "Buen tiempo.<|im_end|>\n", "Das Wetter ist schön.<|im_end|>\n"]
    # the ids are the whole conversation as the template renders it, nothing added or lost
    assert tokenizer.decode(row["input_ids"]) == tokenizer.apply_chat_template(conversation(MULTI_TURN),
                                                                               tokenize=False)
    untrained = tokenizer.decode([t for t, m in zip(*runs(row)) if not m])
    assert "Translate." in untrained and "Into French?" in untrained and "<|im_start|>assistant\n" in untrained


def test_last_trains_only_the_final_answer_on_the_same_ids(tiny_tokenizer_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_tokenizer_dir)
    every, last = (sft_row(tokenizer, conversation(MULTI_TURN), mode) for mode in ("all", "last"))
    assert every["input_ids"] == last["input_ids"]
    assert trained_runs(tokenizer, *runs(last)) == ["Das Wetter ist schön.<|im_end|>\n"]


def test_a_template_that_rewrites_earlier_turns_is_a_clear_error(tiny_tokenizer_dir):
    from curate.errors import DataError

    tokenizer = AutoTokenizer.from_pretrained(tiny_tokenizer_dir)
    # like templates that drop earlier answers' reasoning: an answer renders differently once it is not last
    tokenizer.chat_template = ("{% for m in messages %}{% if m['role'] == 'assistant' %}>"
                               "{% if loop.last %}{{ m['content'] }}{% else %}[old]{% endif %}"
                               "{% else %}{{ m['content'] }}{% endif %}|{% endfor %}"
                               "{% if add_generation_prompt %}>{% endif %}")
    with pytest.raises(DataError, match="--train-on last"):
        sft_row(tokenizer, conversation(MULTI_TURN), "all")
    # which is what --train-on last is for: only the final answer needs locating
    row = sft_row(tokenizer, conversation(MULTI_TURN), "last")
    assert trained_runs(tokenizer, *runs(row)) == ["Das Wetter ist schön.|"]


def test_preference_trains_on_its_best_response(tiny_tokenizer_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_tokenizer_dir)
    record = Preference(instruction="Sort.", responses=["b", "a c", "c"], ranking=[1, 0, 2])
    assert trained_runs(tokenizer, *runs(sft_row(tokenizer, conversation(record)))) == ["a c<|im_end|>\n"]


@pytest.mark.parametrize("train_on", ["all", "last"])
def test_the_trainer_trains_what_preview_shows(tiny_model_dir, tmp_path, run_cli, train_on):
    records = [MULTI_TURN, Example(instruction="Say hi", output="hi there")]
    write_records(tmp_path / "data.jsonl", records)
    trainer, tokenizer = build_sft_trainer(tmp_path / "data.jsonl", tmp_path / "out",
                                           SFTSettings(model=str(tiny_model_dir), max_steps=1, train_on=train_on))
    code, out, err = run_cli("train", "preview", str(tmp_path / "data.jsonl"), "--tokenizer", str(tiny_model_dir),
                             "-n", "2", "--train-on", train_on)
    assert code == 0, err
    for record in records:
        shown = sft_row(tokenizer, conversation(record), train_on)  # what preview renders
        trained = next(r for r in trainer.train_dataset if r["input_ids"] == shown["input_ids"])
        # SFTTrainer's own labels: trained exactly where the preview marks tokens as trained
        assert [int(label != -100) for label in trained["labels"]] == shown["assistant_masks"]
        assert f"{record.id}: {len(shown['input_ids'])} tokens, {sum(shown['assistant_masks'])} trained" in out
