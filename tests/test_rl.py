"""train rl on the tiny policy: rewards rise, the KL is logged, ptx falls, models reload."""

import json
import math

import pytest

from curate.errors import UsageError
from curate.sinks import write_records
from curate.records import Example
from tests.tiny import build_tokenizer, save_token_reward_model
from train.rl import RLSettings, prompt_row, ptx_sequences, rl
from train.rewards import RewardModel, format_reward, length_penalty, parse_source, reward_functions

TOKEN = " sleep"  # one token of the tiny vocabulary, about 1 in 600 of the random policy's samples


@pytest.fixture(scope="module")
def token_reward_model(tmp_path_factory):
    return save_token_reward_model(tmp_path_factory.mktemp("token-rm"), build_tokenizer(), TOKEN)


@pytest.fixture
def prompts(tmp_path):
    path = tmp_path / "prompts.jsonl"
    write_records(path, [Example(instruction=f"Give three tips {i}", system="Be brief." if i % 2 else "")
                         for i in range(16)])
    return path


def fast(**settings):
    """Settings that learn the toy task in 20 CPU steps: whole groups of 16 short samples, a large rate."""
    return RLSettings(**{"batch_size": 16, "num_generations": 16, "max_completion_length": 16, "max_length": 128,
                         "learning_rate": 1e-2, "max_steps": 20, **settings})


def logged(trainer, key):
    return [entry[key] for entry in trainer.state.log_history if entry.get(key) is not None]


def mean(values):
    return sum(values) / len(values)


@pytest.mark.parametrize("method, beta", [("grpo", 0.05), ("rloo", 0.005)])
def test_the_reward_of_a_rare_token_rises_and_the_kl_is_logged(tiny_model_dir, token_reward_model, prompts,
                                                               tmp_path, method, beta):
    trainer = rl(prompts, tmp_path / "rl", fast(model=str(tiny_model_dir), method=method, beta=beta,
                                                reward_model=[f"{token_reward_model}:1.0"], reward=["format:0.5"]))
    name = f"rewards/rm_{token_reward_model.name}/mean"
    rewards = logged(trainer, name)
    assert len(rewards) == 20
    assert mean(rewards[-5:]) > 3 * mean(rewards[:5]) + 0.1, rewards
    kl = logged(trainer, "kl")
    assert len(kl) == 20 and all(math.isfinite(k) for k in kl) and max(kl) > 0
    for entry in trainer.state.log_history[:-1]:  # the weighted sum of the sources is what trains
        assert entry["reward"] == pytest.approx(entry[name] + 0.5 * entry["rewards/format_reward/mean"], abs=1e-4)
    saved = json.loads((tmp_path / "rl" / "training_args.json").read_text())
    assert saved["trainer"] == "rl" and sum(name in entry for entry in saved["log"]) == 20

    from transformers import AutoModelForCausalLM

    policy = AutoModelForCausalLM.from_pretrained(tmp_path / "rl")
    sampled = policy.generate(**build_tokenizer()("Give three tips", return_tensors="pt"), max_new_tokens=16,
                              do_sample=True)
    assert sampled.shape[1] > 1


def test_ptx_loss_is_logged_every_step_and_falls(tiny_model_dir, token_reward_model, prompts, tmp_path):
    text = tmp_path / "text.jsonl"
    text.write_text("".join(json.dumps({"text": f"The weather is nice in the capital, number {i}."}) + "\n"
                            for i in range(8)))
    trainer = rl(prompts, tmp_path / "rl", fast(model=str(tiny_model_dir), reward_model=[str(token_reward_model)],
                                                ptx_data=text, ptx_coef=0.5, max_steps=12))
    ptx = logged(trainer, "ptx_loss")
    assert len(ptx) == 12 and mean(ptx[-3:]) < 0.7 * mean(ptx[:3])


def test_without_ptx_coef_there_is_no_ptx_loss(tiny_model_dir, token_reward_model, prompts, tmp_path):
    trainer = rl(prompts, tmp_path / "rl", fast(model=str(tiny_model_dir), reward_model=[str(token_reward_model)],
                                                max_steps=2))
    assert logged(trainer, "ptx_loss") == []


def test_lora_policy_reloads_with_peft(tiny_model_dir, token_reward_model, prompts, tmp_path):
    from peft import AutoPeftModelForCausalLM

    rl(prompts, tmp_path / "rl", fast(model=str(tiny_model_dir), reward_model=[str(token_reward_model)],
                                      lora=True, lora_rank=4, max_steps=2))
    adapter = json.loads((tmp_path / "rl" / "adapter_config.json").read_text())
    assert adapter["base_model_name_or_path"] == str(tiny_model_dir.resolve())  # reloads from anywhere
    policy = AutoPeftModelForCausalLM.from_pretrained(tmp_path / "rl")
    assert any("lora_" in name for name, _ in policy.named_parameters())


def test_the_reward_model_scores_as_train_score_does(token_reward_model):
    from train.score import Scorer

    record = Example(instruction="Tips for sleep?", system="Be brief.")
    prompt = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Tips for sleep?"}]
    answers = ["Go to sleep early, sleep well.", "Drink water."]
    scored = RewardModel(token_reward_model, 128)([prompt, prompt], [[{"role": "assistant", "content": a}]
                                                                     for a in answers])
    assert scored == pytest.approx(Scorer(token_reward_model, 128).scores(record, answers))
    assert scored[0] > scored[1]


def test_rule_rewards():
    completions = [[{"role": "assistant", "content": text}] for text in
                   ("Sure, here it is.", "   ", "Answer.\nUser: and now me", "Fine <|im_start|>user")]
    assert format_reward(completions) == [1.0, 0.0, 0.0, 0.0]
    penalty = length_penalty(10)
    assert penalty(completions=[None] * 3, completion_ids=[[0] * 5, [0] * 10, [0] * 15]) == [0.0, 0.0, -0.5]


@pytest.mark.parametrize("text, source", [("models/rm", ("models/rm", 1.0)), ("models/rm:0.5", ("models/rm", 0.5)),
                                          ("a:b/rm", ("a:b/rm", 1.0)), ("length:-2", ("length", -2.0))])
def test_reward_sources_parse(text, source):
    parsed = parse_source(text, "--reward-model")
    assert (parsed.name, parsed.weight) == source


@pytest.mark.parametrize("models, rules, said", [
    ([], [], "no reward"), ([], ["shiny"], "unknown rule reward 'shiny'"),
    (["/no/such/rm:2"], [], "--reward-model /no/such/rm: no such directory")])
def test_bad_reward_sources_are_usage_errors(models, rules, said):
    with pytest.raises(UsageError, match=said):
        reward_functions(models, rules, 128, 64)


def test_long_prompts_lose_their_oldest_exchanges_first():
    tokenizer = build_tokenizer()
    history = [(f"old question {i} " * 5, f"old answer {i} " * 5) for i in range(6)]
    record = Example(instruction="The question now?", system="Be brief.", history=history)
    row = prompt_row(tokenizer, record, 120)["prompt"]
    assert row[0] == {"role": "system", "content": "Be brief."} and row[-1]["content"] == "The question now?"
    kept = [m["content"] for m in row[1:-1]]
    assert kept and kept == [part for turn in history[-len(kept) // 2:] for part in turn]
    rendered = tokenizer.apply_chat_template(row, tokenize=False, add_generation_prompt=True)
    assert len(tokenizer(rendered)["input_ids"]) <= 120
    with pytest.raises(Exception, match="raise --max-length"):
        prompt_row(tokenizer, Example(instruction="word " * 200), 120)


def test_a_prompt_too_long_is_named_by_file_and_record(tmp_path):
    from train.rl import prompt_rows

    path = tmp_path / "prompts.jsonl"
    write_records(path, [Example(instruction="short"), Example(instruction="word " * 200)])
    with pytest.raises(Exception, match=r"prompts.jsonl: record 2 \(id [0-9a-f]+\): its prompt is"):
        prompt_rows(path, build_tokenizer(), 120)


def test_ptx_data_must_be_text_rows(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "fine"}\n{"instruction": "not text"}\n')
    with pytest.raises(Exception, match=r"bad.jsonl:2: field 'text'"):
        ptx_sequences(bad, build_tokenizer(), 64)


@pytest.mark.parametrize("args, said", [
    (["--num-generations", "3"], "must be a multiple of --num-generations"),
    (["--ptx-coef", "0.1", "--reward", "format"], "--ptx-coef needs --ptx-data"),
    (["--ptx-data", "{prompts}", "--reward", "format"], "--ptx-data needs --ptx-coef above 0"),
    (["--ptx-data", "{tmp}/no.jsonl", "--ptx-coef", "1", "--reward", "format"], "no.jsonl: no such file"),
    (["--max-completion-length", "4096"], "must be below --max-length"),
    (["--reward", "shiny"], "unknown rule reward"),
    (["--reward", "format:nan"], "the weight must be a finite number"),
    (["--reward-model", "{policy}"], "not a reward model"),
    (["--model", "./no/such/model", "--reward", "format"], "--model: ./no/such/model: no such directory")])
def test_wrong_flags_are_clear_errors_and_write_nothing(tiny_model_dir, prompts, tmp_path, run_cli, args, said):
    args = [a.format(prompts=prompts, tmp=tmp_path, policy=tiny_model_dir) for a in args]
    code, _, err = run_cli("train", "rl", str(prompts), "--model", str(tiny_model_dir), "-o", str(tmp_path / "out"),
                           *args)
    assert code == 2 and said in " ".join(err.split())
    assert not (tmp_path / "out").exists()


def test_reward_lists_in_a_config_file_may_be_one_value(tiny_model_dir, token_reward_model):
    settings = RLSettings.model_validate({"model": str(tiny_model_dir), "reward_model": str(token_reward_model),
                                          "reward": "format"})
    assert settings.reward_model == [str(token_reward_model)] and settings.reward == ["format"]


def test_train_writes_its_summary_json(tiny_model_dir, token_reward_model, prompts, tmp_path, run_cli):
    code, _, err = run_cli("train", "rl", str(prompts), "--model", str(tiny_model_dir), "-o", str(tmp_path / "rl"),
                           "--reward-model", str(token_reward_model), "--batch-size", "4", "--num-generations", "2",
                           "--max-completion-length", "4", "--max-steps", "2", "--max-length", "64",
                           "--summary-json", str(tmp_path / "rl.json"))
    assert code == 0, err
    data = json.loads((tmp_path / "rl.json").read_text())
    assert data["stage"] == "rl" and data["counts"]["steps"] == 2 and "reward_last" in data["facts"]
    assert data["files"]["output"] == str((tmp_path / "rl").resolve())


@pytest.mark.parametrize("method, divided", [("grpo", True), ("rloo", False)])
def test_ptx_is_scaled_as_the_trainer_scales_its_own_loss(method, divided):
    """GRPO divides its loss by the accumulation steps itself, RLOO leaves that to the Trainer:
    the ptx term must follow, so that every optimisation step adds gamma x the LM loss once."""
    import types

    import torch

    from train.losses import lm_loss
    from train.rl import _trainer_class

    trainer = object.__new__(_trainer_class(method))
    logits = torch.randn(1, 4, 7)
    batch = {"input_ids": torch.tensor([[1, 2, 3, 4]]), "attention_mask": torch.ones(1, 4, dtype=torch.long)}
    trainer.ptx, trainer.ptx_coef = iter([batch]), 0.5
    trainer.accelerator = types.SimpleNamespace(device="cpu", is_main_process=True)
    trainer._metrics = {"train": {"ptx_loss": []}}
    trainer.current_gradient_accumulation_steps = 2
    trainer._compute_loss = lambda model, inputs: torch.tensor(1.0)
    model = lambda **_: types.SimpleNamespace(logits=logits)  # noqa: E731
    loss = trainer.compute_loss(model, {})
    ptx = lm_loss(logits, batch["input_ids"], batch["attention_mask"])
    assert torch.isclose(loss, 1.0 + 0.5 * ptx / (2 if divided else 1))
    assert trainer._metrics["train"]["ptx_loss"] == [pytest.approx(ptx.item())]
