from transformers import AutoTokenizer

from curate.io import write_records
from curate.records import Example, Preference
from train.data import to_prompt_completion, tokenize_prompt_completion


def _masked_text(tokenizer, record):
    row = to_prompt_completion(record)
    tokens = tokenize_prompt_completion(tokenizer, row["prompt"], row["completion"])
    trained = [t for t, m in zip(tokens.input_ids, tokens.completion_mask) if m]
    untrained = [t for t, m in zip(tokens.input_ids, tokens.completion_mask) if not m]
    return tokenizer.decode(trained), tokenizer.decode(untrained), tokens


def test_loss_falls_only_on_the_final_response(tiny_tokenizer_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_tokenizer_dir)
    record = Example(instruction="Now into German?", output="Das Wetter ist schön.", system="Translate.",
                     history=[("Into French?", "Il fait beau."), ("Into Spanish?", "Buen tiempo.")])
    trained, untrained, tokens = _masked_text(tokenizer, record)
    assert trained == "Das Wetter ist schön.<|im_end|>\n"
    # history answers are context, not targets
    assert "Il fait beau." in untrained and "Buen tiempo." in untrained and "Translate." in untrained
    # the mask is one contiguous run at the end
    first = tokens.completion_mask.index(1)
    assert set(tokens.completion_mask[first:]) == {1} and set(tokens.completion_mask[:first]) == {0}
    full = tokenizer.apply_chat_template(to_prompt_completion(record)["prompt"] +
                                         to_prompt_completion(record)["completion"], tokenize=False)
    assert tokenizer.decode(tokens.input_ids) == full


def test_preference_trains_on_its_best_response(tiny_tokenizer_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_tokenizer_dir)
    record = Preference(instruction="Sort.", responses=["b", "a c", "c"], ranking=[1, 0, 2])
    trained, _, _ = _masked_text(tokenizer, record)
    assert trained.startswith("a c<|im_end|>")


def test_preview_command(tmp_path, run_cli, examples, tiny_tokenizer_dir):
    src = tmp_path / "in.json"
    write_records(src, examples)
    code, out, err = run_cli("train", "preview", "--data", str(src), "--tokenizer", str(tiny_tokenizer_dir), "-n", "2")
    assert code == 0, err
    assert out.count(" trained") == 2 and examples[1].output in out
