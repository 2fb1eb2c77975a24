import itertools

import torch
import torch.nn.functional as F

from train.losses import ranking_loss


def test_k2_equals_the_pairwise_loss():
    chosen, rejected = torch.randn(8), torch.randn(8)
    rewards = torch.stack([chosen, rejected], dim=1)
    ranks = torch.tensor([[0, 1]]).repeat(8, 1)
    assert torch.allclose(ranking_loss(rewards, ranks), -F.logsigmoid(chosen - rejected).mean())


def test_matches_the_mean_over_all_pairs():
    rewards = torch.tensor([[0.3, -1.2, 2.0, 0.1]])
    ranks = torch.tensor([[2, 3, 0, 1]])  # best: response 2, then 3, 0, 1
    order = [2, 3, 0, 1]
    pairs = [(order[i], order[j]) for i, j in itertools.combinations(range(4), 2)]
    expected = torch.stack([-F.logsigmoid(rewards[0, w] - rewards[0, l]) for w, l in pairs]).mean()
    assert torch.allclose(ranking_loss(rewards, ranks), expected)


def test_listing_order_does_not_matter_once_ranks_are_given():
    rewards = torch.randn(3, 5)
    ranks = torch.stack([torch.randperm(5) for _ in range(3)])
    permutation = torch.randperm(5)
    assert torch.allclose(ranking_loss(rewards, ranks), ranking_loss(rewards[:, permutation], ranks[:, permutation]))


def test_gradients_push_the_better_reward_up():
    rewards = torch.zeros(1, 3, requires_grad=True)
    ranking_loss(rewards, torch.tensor([[0, 1, 2]])).backward()
    gradient = rewards.grad[0]
    assert gradient[0] < 0 < gradient[2]  # descending the loss raises the best, lowers the worst


def test_padding_is_ignored():
    rewards = torch.tensor([[1.0, 0.0, 5.0]])
    ranks = torch.tensor([[0, 1, 2]])
    mask = torch.tensor([[True, True, False]])
    assert torch.allclose(ranking_loss(rewards, ranks, mask), -F.logsigmoid(torch.tensor(1.0)))


def test_lm_loss_is_the_mean_negative_log_likelihood_of_each_next_real_token():
    from train.losses import lm_loss

    torch.manual_seed(0)
    logits = torch.randn(2, 4, 7)
    ids = torch.tensor([[1, 2, 3, 4], [5, 6, 0, 0]])
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]])
    logp = torch.log_softmax(logits, dim=-1)
    # by hand: 3 predictions in the first row, 1 in the second (padding predicts nothing, is never predicted)
    terms = [-logp[0, 0, 2], -logp[0, 1, 3], -logp[0, 2, 4], -logp[1, 0, 6]]
    assert torch.allclose(lm_loss(logits, ids, mask), torch.stack(terms).mean())


def test_lm_loss_falls_as_the_model_predicts_the_text():
    from train.losses import lm_loss

    ids = torch.tensor([[1, 2, 3]])
    mask = torch.ones_like(ids)
    unsure = torch.zeros(1, 3, 5)
    sure = torch.full((1, 3, 5), -10.0)
    sure[0, 0, 2] = sure[0, 1, 3] = 10.0
    assert lm_loss(sure, ids, mask) < 1e-3 < lm_loss(unsure, ids, mask)
    assert torch.isclose(lm_loss(unsure, ids, mask), torch.log(torch.tensor(5.0)))
