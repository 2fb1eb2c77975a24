"""Losses TRL does not have: InstructGPT's K-wise ranking loss for reward models."""

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
