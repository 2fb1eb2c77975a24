"""ROUGE-L novelty against a growing pool, fast enough for tens of thousands of texts.

rouge-score's LCS is pure Python, so scoring a candidate against every pool entry is
quadratic work per pair. But ROUGE-L F = 2 * LCS / (len_a + len_b), and the LCS can
be no longer than the tokens the two texts share, so a sparse matrix-vector product
over token presence bounds every pool entry's score at once; the exact LCS runs only
for the few entries whose bound clears the threshold. The answer is identical to
checking every pair with rouge-score (a test checks this).
"""

from __future__ import annotations

import re
from collections import Counter
from typing import NamedTuple

import numpy as np
from rouge_score import rouge_scorer
from scipy import sparse

# rouge-score's own tokenizer keeps [a-z0-9] runs and drops everything else, which turns
# Chinese text into nothing; CJK characters count as one token each here.
_TOKEN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[a-z0-9]+")


class MixedTokenizer:
    """The tokenizer interface rouge-score expects: words for Latin text, characters for CJK."""

    def tokenize(self, text: str) -> list[str]:
        return _TOKEN.findall(text.lower())


class Similarity(NamedTuple):
    """score, index: the best exact ROUGE-L F among the pool texts whose bound clears the
    threshold, and that text's index (0.0 and None when no bound clears it).
    bound: no pool text scores higher. It equals `score` whenever score exceeds the threshold;
    otherwise it is the larger of `score` and the other texts' token-overlap bounds."""

    score: float
    index: int | None
    bound: float


class RougeIndex:
    """Pool texts, and the most similar one (by ROUGE-L F) to a candidate."""

    def __init__(self, threshold: float = 0.7, block_rows: int = 256):
        self.threshold = threshold
        self.block_rows = block_rows
        self.texts: list[str] = []
        self._tokenizer = MixedTokenizer()
        self._scorer = rouge_scorer.RougeScorer(["rougeL"], tokenizer=self._tokenizer)
        self._vocab: dict[str, int] = {}
        # blocks of rows merged like a log-structured tree, so a query does O(log n) products
        self._blocks: list[tuple[sparse.csr_matrix, np.ndarray, int]] = []  # (presence, lengths, first row)
        self._pending: list[tuple[list[int], int]] = []

    def __len__(self) -> int:
        return len(self.texts)

    def add(self, text: str) -> None:
        tokens = self._tokenizer.tokenize(text)
        ids = sorted({self._vocab.setdefault(token, len(self._vocab)) for token in tokens})
        self.texts.append(text)
        self._pending.append((ids, len(tokens)))
        if len(self._pending) >= self.block_rows:
            self._flush()

    def _flush(self) -> None:
        first = len(self.texts) - len(self._pending)
        indptr = np.cumsum([0] + [len(ids) for ids, _ in self._pending])
        indices = np.fromiter((i for ids, _ in self._pending for i in ids), dtype=np.int32, count=indptr[-1])
        matrix = sparse.csr_matrix((np.ones(len(indices), np.float32), indices, indptr),
                                   shape=(len(self._pending), len(self._vocab)))
        self._blocks.append((matrix, np.array([n for _, n in self._pending], np.float32), first))
        self._pending = []
        while len(self._blocks) > 1 and self._blocks[-1][0].shape[0] == self._blocks[-2][0].shape[0]:
            (a, len_a, first_a), (b, len_b, _) = self._blocks[-2], self._blocks[-1]
            width = max(a.shape[1], b.shape[1])
            a.resize((a.shape[0], width))
            b.resize((b.shape[0], width))
            self._blocks[-2:] = [(sparse.vstack([a, b], format="csr"), np.concatenate([len_a, len_b]), first_a)]

    def most_similar(self, text: str) -> Similarity:
        """The best exact match among the pool texts whose F could exceed the threshold, and a
        bound on every pool text's F (see Similarity)."""
        tokens = self._tokenizer.tokenize(text)
        if not tokens or not self.texts:
            return Similarity(0.0, None, 0.0)
        counts = Counter(self._vocab[t] for t in tokens if t in self._vocab)
        query = np.zeros(len(self._vocab), np.float32)
        query[list(counts)] = list(counts.values())
        bounds = [self._bounds(matrix @ query[: matrix.shape[1]], lengths, len(tokens))
                  for matrix, lengths, _ in self._blocks]
        if self._pending:
            overlap = np.array([sum(counts.get(i, 0) for i in ids) for ids, _ in self._pending], np.float32)
            bounds.append(self._bounds(overlap, np.array([n for _, n in self._pending], np.float32), len(tokens)))
        every = np.concatenate(bounds)  # one per pool text, in pool order
        passing = every > self.threshold - 1e-9
        best, best_index = 0.0, None
        for index in np.flatnonzero(passing).tolist():
            score = self._scorer.score(self.texts[index], text)["rougeL"].fmeasure
            if score > best:
                best, best_index = score, index
        unscored = float(every[~passing].max()) if (~passing).any() else 0.0
        return Similarity(best, best_index, max(best, unscored))

    def _bounds(self, overlap: np.ndarray, lengths: np.ndarray, length: int) -> np.ndarray:
        """Upper bounds on ROUGE-L F: the LCS is no longer than the shared tokens."""
        shared = np.minimum(np.minimum(overlap, lengths), length)
        return 2 * shared / np.maximum(lengths + length, 1)

    def too_similar(self, text: str) -> bool:
        return self.most_similar(text).score > self.threshold
