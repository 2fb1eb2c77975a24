"""Trainers on CPU with the tiny model: a few steps each, on toy tasks they can learn."""

import json

import pytest
import torch

from curate.io import read_records
from curate.sinks import write_records
from curate.records import Example, Preference
from train.dpo import DPOSettings, dpo
from train.rm import RMSettings, rm
from train.score import Scorer
from train.sft import SFTSettings, build_sft_trainer

WORDS = "apple river stone cloud tiger lemon paper glass maple ocean piano candle".split()
HELD_OUT = "violin desert rocket garden".split()


def losses(trainer):
    return [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]


def held_out_wins(scorer):
    """How many held-out prompts the reward model scores "<word> yes" above "no no no"."""
    wins = 0
    for word in HELD_OUT:
        record = Preference(instruction=f"Say {word}", chosen=f"{word} yes", rejected="no no no")
        good, bad = scorer.scores(record, [f"{word} yes", "no no no"])
        wins += good > bad
    return wins


def weights(model_dir):
    from transformers import AutoModelForCausalLM

    return {k: v.clone() for k, v in AutoModelForCausalLM.from_pretrained(model_dir).state_dict().items()}


@pytest.mark.parametrize("train_on, trained_answers", [
    ("all", ["Il fait beau.", "Buen tiempo.", "Das Wetter ist schön."]), ("last", ["Das Wetter ist schön."])])
def test_sft_loss_falls_on_the_assistant_turns(tiny_model_dir, tmp_path, train_on, trained_answers):
    record = Example(instruction="Now into German?", output="Das Wetter ist schön.", system="Translate.",
                     history=[("Into French?", "Il fait beau."), ("Into Spanish?", "Buen tiempo.")])
    write_records(tmp_path / "one.jsonl", [record])
    trainer, tokenizer = build_sft_trainer(tmp_path / "one.jsonl", tmp_path / "out",
                                           SFTSettings(model=str(tiny_model_dir), max_steps=1, train_on=train_on))
    row = trainer.train_dataset[0]
    runs, current = [], []
    for token, label in zip(row["input_ids"], row["labels"]):
        if label != -100:
            current.append(token)
        elif current:
            runs.append(tokenizer.decode(current))
            current = []
    runs += [tokenizer.decode(current)] if current else []
    assert runs == [f"{answer}<|im_end|>\n" for answer in trained_answers]
    trainer.train()  # and it trains on them
    assert losses(trainer)


def test_sft_from_an_export_learns_and_reloads(tiny_model_dir, tmp_path, run_cli):
    records = [Example(instruction=f"Repeat the word {w}", output=f"{w} {w} {w}") for w in WORDS] * 3
    write_records(tmp_path / "records.jsonl", records)
    code, _, err = run_cli("curate", "export", str(tmp_path / "records.jsonl"), "-o", str(tmp_path / "sft.jsonl"),
                           "--format", "trl")
    assert code == 0, err
    before = weights(tiny_model_dir)
    code, _, err = run_cli("train", "sft", "--data", str(tmp_path / "sft.jsonl"), "-o", str(tmp_path / "model"),
                           "--model", str(tiny_model_dir), "--max-steps", "25", "--learning-rate", "5e-3",
                           "--batch-size", "8", "--packing")
    assert code == 0, err
    record = json.loads((tmp_path / "model" / "training_args.json").read_text())
    trained = [entry["loss"] for entry in record["log"] if "loss" in entry]
    assert record["trainer"] == "sft" and record["config"]["packing"] is True
    assert trained[-1] < 0.7 * trained[0]
    after = weights(tmp_path / "model")
    assert any(not torch.equal(before[k], after[k]) for k in before)


def test_dpo_prefers_chosen_and_reloads(tiny_model_dir, tmp_path):
    records = [Preference(instruction=f"Say {w}", chosen=w, rejected="no") for w in WORDS]
    records.append(Preference(instruction="Rank these", responses=["b", "a", "c"], ranking=[1, 0, 2]))
    write_records(tmp_path / "prefs.jsonl", records)
    trainer = dpo(tmp_path / "prefs.jsonl", tmp_path / "model",
                  DPOSettings(model=str(tiny_model_dir), max_steps=12, learning_rate=1e-3, batch_size=4))
    history = losses(trainer)
    assert history[0] == pytest.approx(0.6931, abs=1e-3) and min(history[-3:]) < 0.6
    margins = [entry["rewards/margins"] for entry in trainer.state.log_history if "rewards/margins" in entry]
    assert margins[-1] > 0
    assert any(not torch.equal(a, b) for a, b in zip(weights(tiny_model_dir).values(), weights(tmp_path / "model").values()))


@pytest.mark.parametrize("ranked", [False, True])
def test_reward_model_ranks_held_out_pairs(tiny_model_dir, tmp_path, ranked):
    if ranked:  # K = 3 through the K-wise loss
        records = [Preference(instruction=f"Say {w}", responses=["no no no", f"{w} yes", "maybe so"],
                              ranking=[1, 2, 0]) for w in WORDS] * 2
    else:  # pairwise through TRL's RewardTrainer
        records = [Preference(instruction=f"Say {w}", chosen=f"{w} yes", rejected="no no no") for w in WORDS] * 2
    write_records(tmp_path / "prefs.jsonl", records)
    trainer = rm(tmp_path / "prefs.jsonl", tmp_path / "rm",
                 RMSettings(model=str(tiny_model_dir), max_steps=25, learning_rate=3e-3, batch_size=4))
    history = losses(trainer)
    assert history[-1] < 0.5 * history[0]
    assert held_out_wins(Scorer(tmp_path / "rm")) >= 3


def test_score_writes_meta_reward(tiny_model_dir, tmp_path, run_cli):
    write_records(tmp_path / "prefs.jsonl", [Preference(instruction=f"Say {w}", chosen=f"{w} yes", rejected="no")
                                              for w in WORDS])
    rm(tmp_path / "prefs.jsonl", tmp_path / "rm", RMSettings(model=str(tiny_model_dir), max_steps=2))
    answered = Example(instruction="Say hi", output="hi yes", meta={"responses": {"candidates": ["hi yes", "no"]}})
    unanswered = Example(instruction="Say bye")
    write_records(tmp_path / "answers.jsonl", [answered, unanswered])
    code, _, err = run_cli("train", "score", str(tmp_path / "answers.jsonl"), "--model", str(tmp_path / "rm"),
                           "-o", str(tmp_path / "scored.jsonl"), "--rejects", str(tmp_path / "unscored.jsonl"))
    assert code == 0, err
    [left_out] = read_records(tmp_path / "unscored.jsonl")
    assert left_out.id == unanswered.id and left_out.meta["rejected"] == {"stage": "score", "reason": "no_output"}
    [scored] = read_records(tmp_path / "scored.jsonl")
    reward = scored.meta["reward"]
    assert isinstance(reward["score"], float) and len(reward["candidates"]) == 2
    assert reward["score"] == pytest.approx(reward["candidates"][0], abs=1e-5)  # same text, same score


@pytest.mark.parametrize("command, records, hint", [
    ("sft", [Preference(instruction="q", chosen="a", rejected="b")], "curate export --format trl"),
    ("dpo", [Example(instruction="q", output="a")], "export preferences"),
    ("rm", [Example(instruction="q", output="a")], "--format ranking"),
])
def test_wrong_data_shape_is_a_clear_error(tiny_model_dir, tmp_path, run_cli, command, records, hint):
    write_records(tmp_path / "data.jsonl", records)
    code, _, err = run_cli("train", command, "--data", str(tmp_path / "data.jsonl"), "-o", str(tmp_path / "out"),
                           "--model", str(tiny_model_dir))
    assert code == 1 and "record 1" in err and hint in err
    assert not (tmp_path / "out").exists()


def test_lora_trains_an_adapter_that_peft_reloads(tiny_model_dir, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from train.sft import sft

    write_records(tmp_path / "sft.jsonl", [Example(instruction=f"Repeat {w}", output=w) for w in WORDS])
    sft(tmp_path / "sft.jsonl", tmp_path / "adapter",
        SFTSettings(model=str(tiny_model_dir), max_steps=3, lora=True, lora_rank=4, lora_alpha=8,
                    lora_target_modules="q_proj,v_proj", learning_rate=1e-2))
    config = json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())
    assert config["r"] == 4 and set(config["target_modules"]) == {"q_proj", "v_proj"}
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), tmp_path / "adapter")
    assert any("lora_" in name for name, _ in model.named_parameters())


def test_base_models_need_a_chat_template(tiny_model_dir, tmp_path):
    import shutil

    base = tmp_path / "base"
    shutil.copytree(tiny_model_dir, base)
    (base / "chat_template.jinja").unlink(missing_ok=True)
    settings = json.loads((base / "tokenizer_config.json").read_text())
    settings.pop("chat_template", None)
    (base / "tokenizer_config.json").write_text(json.dumps(settings))
    write_records(tmp_path / "sft.jsonl", [Example(instruction="Repeat a", output="a")])
    with pytest.raises(Exception, match="--chat-template"):
        build_sft_trainer(tmp_path / "sft.jsonl", tmp_path / "out", SFTSettings(model=str(base)))
    template = tmp_path / "template.jinja"
    template.write_text("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
                        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    trainer, tokenizer = build_sft_trainer(tmp_path / "sft.jsonl", tmp_path / "out",
                                           SFTSettings(model=str(base), chat_template=str(template), max_steps=1))
    assert tokenizer.chat_template == template.read_text() and len(trainer.train_dataset) == 1


def test_margins_reach_the_reward_trainer(tiny_model_dir, tmp_path):
    from train.rm import build_rm_trainer

    write_records(tmp_path / "prefs.jsonl", [Preference(instruction=f"Say {w}", chosen=w, rejected="no", margin=2.0)
                                              for w in WORDS])
    trainer, _ = build_rm_trainer(tmp_path / "prefs.jsonl", tmp_path / "rm", RMSettings(model=str(tiny_model_dir)))
    assert trainer.train_dataset[0]["margin"] == 2.0


def test_dpo_with_lora_uses_the_adapter_free_model_as_reference(tiny_model_dir, tmp_path):
    records = [Preference(instruction=f"Say {w}", chosen=w, rejected="no") for w in WORDS]
    write_records(tmp_path / "prefs.jsonl", records)
    trainer = dpo(tmp_path / "prefs.jsonl", tmp_path / "adapter",
                  DPOSettings(model=str(tiny_model_dir), max_steps=4, learning_rate=1e-2, batch_size=4, lora=True,
                              lora_rank=4, precompute_ref=True))
    assert trainer.ref_model is None  # TRL disables the adapter to get reference log-probabilities
    assert losses(trainer)[0] == pytest.approx(0.6931, abs=1e-3)
    assert (tmp_path / "adapter" / "adapter_config.json").exists()


def test_kwise_reward_model_with_lora_scores_through_its_adapter(tiny_model_dir, tmp_path):
    records = [Preference(instruction=f"Say {w}", responses=["no no no", f"{w} yes", "maybe so"], ranking=[1, 2, 0])
               for w in WORDS] * 2
    write_records(tmp_path / "ranked.jsonl", records)
    trainer = rm(tmp_path / "ranked.jsonl", tmp_path / "rm", RMSettings(model=str(tiny_model_dir), max_steps=25,
                                                                          learning_rate=1e-2, batch_size=4, lora=True,
                                                                          lora_rank=8))
    history = losses(trainer)
    assert history[-1] < history[0]
    assert (tmp_path / "rm" / "adapter_config.json").exists()
    # the scorer loads the base model and the adapter (with its trained score head)
    assert held_out_wins(Scorer(tmp_path / "rm")) >= 3


def test_reward_model_truncation_keeps_the_end_of_the_response(tiny_model_dir):
    from transformers import AutoTokenizer

    from train.rm import conversation_ids

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    answer = "the capital is paris"
    tail = tokenizer(f"{answer}<|im_end|>\n", add_special_tokens=False)["input_ids"]
    history = [(f"question {i} about the weather " * 3, f"answer {i} " * 5) for i in range(12)]
    long_history = Preference(instruction="Now the capital?", system="Be kind.", history=history,
                              chosen=answer, rejected="no")
    ids = conversation_ids(tokenizer, long_history, answer, 96)
    text = tokenizer.decode(ids)
    assert len(ids) <= 96 and ids[-len(tail):] == tail  # the score head still reads the response's end
    # the oldest turns went first; the system message and the last question stayed
    assert text.startswith("<|im_start|>system\nBe kind.") and "Now the capital?" in text
    assert "question 0 " not in text and "question 11 " in text
    # one prompt longer than max_length on its own: its start goes, never the response's end
    huge = Preference(instruction="give three tips " * 200, chosen=answer, rejected="no")
    ids = conversation_ids(tokenizer, huge, answer, 64)
    assert len(ids) == 64 and ids[-len(tail):] == tail


def test_long_pairs_are_truncated_not_dropped(tiny_model_dir, tmp_path):
    from train.rm import build_rm_trainer

    records = [Preference(instruction="give three tips " * 100 + w, chosen=f"{w} yes", rejected="no no no")
               for w in WORDS]
    write_records(tmp_path / "prefs.jsonl", records)
    trainer, tokenizer = build_rm_trainer(tmp_path / "prefs.jsonl", tmp_path / "rm",
                                          RMSettings(model=str(tiny_model_dir), max_steps=1, max_length=48))
    assert len(trainer.train_dataset) == len(WORDS)  # TRL filters pairs over max_length; none reach it
    for row, word in zip(trainer.train_dataset, WORDS):
        assert len(row["chosen_ids"]) <= 48 and tokenizer.decode(row["chosen_ids"]).endswith(f"{word} yes<|im_end|>\n")


@pytest.mark.parametrize("precompute_ref, models_loaded", [(True, 1), (False, 2)])
def test_precomputing_the_reference_keeps_one_model(tiny_model_dir, tmp_path, monkeypatch, precompute_ref,
                                                    models_loaded):
    from transformers import PreTrainedModel

    from train.dpo import build_dpo_trainer

    loads = []
    original = PreTrainedModel.from_pretrained.__func__

    def counting(cls, *args, **kwargs):
        loads.append(cls.__name__)
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(PreTrainedModel, "from_pretrained", classmethod(counting))
    write_records(tmp_path / "prefs.jsonl", [Preference(instruction=f"Say {w}", chosen=w, rejected="no") for w in WORDS])
    trainer, _ = build_dpo_trainer(tmp_path / "prefs.jsonl", tmp_path / "out",
                                   DPOSettings(model=str(tiny_model_dir), max_steps=1, precompute_ref=precompute_ref))
    assert len(loads) == models_loaded
    assert (trainer.ref_model is None) is precompute_ref
    trainer.train()  # the precomputed log-probabilities stand in for the reference
    assert losses(trainer)[0] == pytest.approx(0.6931, abs=1e-3)


def test_kwise_collator_and_loss_with_mixed_k_in_one_batch():
    from train.losses import ranking_loss
    from train.rm import RankingCollator

    rows = [{"responses": [[5, 6, 7], [8], [9, 9]], "ranks": [2, 0, 1]},  # K = 3
            {"responses": [[1, 2], [3, 4, 4, 4]], "ranks": [1, 0]},        # K = 2
            {"responses": [[7], [7, 7], [7, 7, 7], [2]], "ranks": [0, 3, 1, 2]}]  # K = 4
    batch = RankingCollator(pad_token_id=0)(rows)
    assert batch["input_ids"].shape == (9, 4) and batch["attention_mask"].sum(1).tolist() == [3, 1, 2, 2, 4, 1, 2, 3, 1]
    assert batch["input_ids"][3].tolist() == [1, 2, 0, 0]  # right padding
    assert batch["response_mask"].tolist() == [[True] * 3 + [False], [True] * 2 + [False] * 2, [True] * 4]
    # scores in the flattened order map back to each prompt's responses; padding adds no pairs
    scores = torch.tensor([0.1, 2.0, 1.0, -1.0, 1.0, 3.0, 0.0, 1.0, 2.0])
    rewards = torch.zeros(batch["response_mask"].shape)
    rewards[batch["response_mask"]] = scores
    expected = []
    for row, flat in zip(rows, [scores[0:3], scores[3:5], scores[5:9]]):
        pairs = [(i, j) for i in range(len(row["ranks"])) for j in range(len(row["ranks"]))
                 if row["ranks"][i] < row["ranks"][j]]
        expected.append(sum(-torch.nn.functional.logsigmoid(flat[i] - flat[j]) for i, j in pairs) / len(pairs))
    loss = ranking_loss(rewards, batch["ranks"], batch["response_mask"])
    assert loss.item() == pytest.approx(torch.stack(expected).mean().item(), rel=1e-6)


def test_a_second_run_into_the_same_directory_needs_overwrite_and_then_leaves_no_stale_files(tiny_model_dir,
                                                                                          tmp_path, run_cli):
    from curate.errors import UsageError

    data = tmp_path / "sft.jsonl"
    write_records(data, [Example(instruction=f"Say {w}", output=f"{w}.") for w in WORDS[:4]])
    out = tmp_path / "model"
    SFT = dict(model=str(tiny_model_dir), max_steps=1, batch_size=2)
    from train.sft import sft

    sft(data, out, SFTSettings(**SFT, lora=True, lora_rank=2))
    assert (out / "adapter_config.json").exists()
    with pytest.raises(UsageError, match="already holds files.*--overwrite"):
        sft(data, out, SFTSettings(**SFT))
    sft(data, out, SFTSettings(**SFT, overwrite=True))
    assert not (out / "adapter_config.json").exists() and (out / "model.safetensors").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model", "sft.jsonl"]  # no work directories left
    (tmp_path / "afile").write_text("x")
    code, _, err = run_cli("train", "sft", str(data), "--model", str(tiny_model_dir), "-o", str(tmp_path / "afile"))
    assert code == 2 and "is a file" in err


def test_a_failed_run_leaves_no_output(tiny_model_dir, tmp_path, monkeypatch):
    import transformers

    def broken(self, *args, **kwargs):
        raise RuntimeError("out of memory, say")

    data = tmp_path / "sft.jsonl"
    write_records(data, [Example(instruction="Say hi", output="hi.")])
    monkeypatch.setattr(transformers.Trainer, "train", broken)
    from train.sft import sft

    with pytest.raises(RuntimeError):
        sft(data, tmp_path / "model", SFTSettings(model=str(tiny_model_dir), max_steps=1))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sft.jsonl"]
