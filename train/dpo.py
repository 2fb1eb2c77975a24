"""`train dpo`: TRL's DPOTrainer on prompt/chosen/rejected.

The reference model is always the starting checkpoint. It is never passed to TRL: TRL loads
it from the checkpoint's path itself only when it needs one kept, so with --precompute-ref
(the reference log-probabilities computed once, up front) or with LoRA (the same model with
the adapter disabled) there is one model in memory, not two. Ranked preferences become every
better/worse pair of their ranking.

Memory: every preference pair, tokenized (a datasets.Dataset), the model and, unless
--precompute-ref or --lora, its reference copy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from curate.formats import export_rows
from curate.records import Preference
from train.common import TrainConfig, load_tokenizer, peft_config, read_training_records, train_and_save, trl_arguments


class DPOSettings(TrainConfig):
    learning_rate: float = Field(5e-7, gt=0, description="Peak learning rate (DPO wants it small).")
    beta: float = Field(0.1, gt=0, description="Strength of the pull towards the reference model.")
    loss_type: str = Field("sigmoid", description="DPO loss: sigmoid (the paper's), hinge, ipo, ... (TRL's names).")
    precompute_ref: bool = Field(False, description="Compute the reference log-probabilities once, up front "
                                 "(saves memory: the reference model is not kept during training).")
    pairs: Literal["all", "best-worst"] = Field("all", description="For ranked preferences: every pair, or only "
                                                "best against worst.")


def build_dpo_trainer(data: str | Path, output: str | Path, config: DPOSettings) -> tuple[Any, Any]:
    from datasets import Dataset
    from transformers import AutoModelForCausalLM
    from trl import DPOConfig, DPOTrainer

    records = read_training_records(data, Preference, "export preferences with curate export --format trl")
    rows = Dataset.from_list([row for record in records for row in export_rows(record, "trl", config.pairs)])
    tokenizer = load_tokenizer(config)
    args = DPOConfig(**trl_arguments(config, Path(output)), max_length=config.max_length, beta=config.beta,
                     loss_type=config.loss_type, precompute_ref_log_probs=config.precompute_ref)
    lora = peft_config(config, "CAUSAL_LM")
    model = AutoModelForCausalLM.from_pretrained(config.model)
    trainer = DPOTrainer(model=model, ref_model=None, args=args, train_dataset=rows,
                         processing_class=tokenizer, peft_config=lora)
    return trainer, tokenizer


def dpo(data: str | Path, output: str | Path, config: DPOSettings) -> Any:
    return train_and_save(build_dpo_trainer, data, output, config, "dpo")
