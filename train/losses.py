"""Losses TRL does not have: InstructGPT's K-wise ranking loss for reward models, and the ptx term
of its RL objective."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def ranking_loss(rewards: torch.Tensor, ranks: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """-mean over all C(K,2) better/worse pairs of log sigmoid(r_better - r_worse), per prompt,
    then the mean over prompts (Ouyang et al. 2022, eq. 1).

    rewards: [B, K], one reward per response from K forward passes (not 2 x C(K,2)).
    ranks:   [B, K], each response's place in its ranking, 0 = best.
    mask:    [B, K], False where a prompt has fewer than K responses.
    """
    better = ranks[:, :, None] < ranks[:, None, :]  # [B, K, K]: response i ranked above response j
    if mask is not None:
        better = better & mask[:, :, None] & mask[:, None, :]
    pair_losses = -F.logsigmoid(rewards[:, :, None] - rewards[:, None, :])
    per_prompt = (pair_losses * better).sum(dim=(1, 2)) / better.sum(dim=(1, 2)).clamp(min=1)
    return per_prompt.mean()


def lm_loss(logits: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean next-token negative log-likelihood over the real tokens of a batch: the language-model
    loss on pre-training text that PPO-ptx adds to the RL objective (Ouyang et al. 2022, eq. 2).

    logits: [B, L, V] for input_ids [B, L]; attention_mask [B, L] is 0 on padding. Each position
    predicts the next token, so a sequence of n real tokens gives n - 1 terms."""
    targets = input_ids[:, 1:]
    counted = attention_mask[:, 1:].bool() & attention_mask[:, :-1].bool()
    losses = F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), targets.flatten(), reduction="none")
    return (losses * counted.flatten()).sum() / counted.sum().clamp(min=1)
