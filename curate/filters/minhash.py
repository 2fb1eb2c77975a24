"""MinHash signatures for many texts at once, bit-for-bit datasketch's default scheme.

datasketch (>= 2.0, scheme "affine32") hashes each shingle to 32 bits, mixes it with the
MurmurHash3 finalizer, then takes min over `a_k * h + b_k` (uint32 wraparound) for each
permutation k. We do exactly that, but for a whole chunk of records in numpy passes:
words are hashed once per distinct word (Arrow tokenises and dictionary-encodes them),
n-gram shingles are combined from word hashes with vectorised arithmetic, and each
permutation is one multiply-add and one `minimum.reduceat` over every shingle. Feeding
`shingle_hash32` to `datasketch.MinHash(hashfunc=...)` gives the same signature (tested).
"""

from __future__ import annotations

import re
import string
import unicodedata

import numpy as np
import pandas as pd

# CJK text has no spaces: it is shingled by characters; other scripts by words.
_CJK_CHARS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_CJK = re.compile(f"[{_CJK_CHARS}]")
_CJK_TOKEN = re.compile(f"[{_CJK_CHARS}]|[^\\W_]+")
# what is trimmed off the ends of a word: ASCII and common CJK/typographic punctuation
PUNCTUATION = string.punctuation + "“”‘’«»—–…·•，。！？；：、（）《》〈〉【】「」『』～"
_POLY = np.uint32(0x01000193)  # FNV-1 prime: mixes each word's place in the n-gram
_FMIX32 = (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35), np.uint32(16))


def is_cjk(text: str) -> bool:
    """Mostly Chinese/Japanese/Korean characters (judged on the first 200 characters)?"""
    head = text[:200]
    return _CJK.search(head) is not None and len(_CJK.findall(head)) * 3 > len(head.replace(" ", ""))


def tokens(text: str) -> list[str]:
    """The units shingles are made of: lower-cased words with their punctuation trimmed,
    or, for CJK text, single characters (and the words of any Latin runs in it)."""
    text = unicodedata.normalize("NFKC", text)
    if is_cjk(text):
        return _CJK_TOKEN.findall(text.lower())
    trimmed = (word.strip(PUNCTUATION) for word in text.lower().split())
    return [word for word in trimmed if word]


def _segment_sums(values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Per-segment sums (wrapping, for unsigned hashes); empty segments sum to 0."""
    running = np.concatenate([np.zeros(1, values.dtype), np.cumsum(values, dtype=values.dtype)])
    return running[offsets[1:]] - running[offsets[:-1]]


def _token_hashes(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """32-bit hashes of every token of every text, flat, with per-text offsets.

    Arrow normalises, lower-cases and splits all texts in C++ and dictionary-encodes the
    words, so the Python work (trimming punctuation, hashing) is once per distinct word.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    spaced = pa.array([" ".join(_CJK_TOKEN.findall(text.lower())) if is_cjk(text) else text for text in texts],
                      pa.large_string())
    if pc.all(pc.string_is_ascii(spaced)).as_py() is not False:  # ASCII is NFKC already, and its kernels are faster
        words = pc.ascii_split_whitespace(pc.ascii_lower(spaced))
    else:
        words = pc.utf8_split_whitespace(pc.utf8_lower(pc.utf8_normalize(spaced, "NFKC")))
    offsets = words.offsets.to_numpy().astype(np.int64)
    encoded = pc.dictionary_encode(words.flatten())
    distinct = [word.strip(PUNCTUATION) for word in encoded.dictionary.to_pylist()]
    indices, offsets = _drop(encoded.indices.to_numpy(zero_copy_only=False), offsets, [not w for w in distinct])
    return _word_hashes(distinct)[indices], offsets


def _drop(indices: np.ndarray, offsets: np.ndarray, empty: list[bool]) -> tuple[np.ndarray, np.ndarray]:
    """Remove the positions whose distinct word is flagged empty, keeping offsets right."""
    flags = np.array(empty, dtype=bool)
    if not flags.any():
        return indices, offsets
    keep = ~flags[indices]
    return indices[keep], np.concatenate([[0], np.cumsum(_segment_sums(keep.astype(np.int64), offsets))])


def _word_hashes(words: list[str]) -> np.ndarray:
    """Stable 32-bit word hashes (pandas' keyed SipHash, high half): the same on every run."""
    hashed = pd.util.hash_array(np.array(words, dtype=object), categorize=False)
    return (hashed >> np.uint64(32)).astype(np.uint32)


def _combine(words: np.ndarray) -> np.uint32:
    value = np.zeros(1, np.uint32)
    for word in words:
        value = value * _POLY + word
    return value[0]


def shingle_hash32(shingle: list[str]) -> int:
    """The 32-bit hash of one shingle (its tokens in order), as the vectorised path computes it."""
    return int(_combine(_word_hashes(shingle)))


def shingle_hashes(texts: list[str], ngram: int) -> tuple[np.ndarray, np.ndarray]:
    """uint32 hashes of every n-gram shingle of every text, flat, with per-text offsets.

    A text shorter than `ngram` tokens is one shingle of all its tokens; an empty one has none.
    """
    words, word_offsets = _token_hashes(texts)
    lengths = np.diff(word_offsets)
    counts = np.where(lengths >= ngram, lengths - ngram + 1, (lengths > 0).astype(np.int64))
    offsets = np.concatenate([[0], np.cumsum(counts)])
    if len(words) < ngram:
        windows = np.zeros(0, np.uint32)
    else:
        windows = np.zeros(len(words) - ngram + 1, np.uint32)
        for i in range(ngram):
            np.multiply(windows, _POLY, out=windows)
            np.add(windows, words[i : len(words) - ngram + 1 + i], out=windows)
    # a window is a shingle unless it runs past the end of its text
    valid = np.ones(len(words), bool)
    long = lengths >= ngram
    ends = word_offsets[1:][long]
    valid[(ends[:, None] - np.arange(1, ngram)).ravel()] = False
    short = np.flatnonzero(~long & (lengths > 0))
    for record in short:
        valid[word_offsets[record] : word_offsets[record + 1]] = False
    shingles = windows[valid[: len(windows)]]
    if len(short):  # each short text's single shingle goes in its place
        singles = [_combine(words[word_offsets[r] : word_offsets[r + 1]]) for r in short]
        shingles = np.insert(shingles, offsets[short] - np.arange(len(short)), np.array(singles, np.uint32))
    return shingles, offsets


def fmix32(values: np.ndarray) -> np.ndarray:
    s1, m1, s2, m2, s3 = _FMIX32
    values = values ^ (values >> s1)
    values = values * m1
    values = values ^ (values >> s2)
    values = values * m2
    return values ^ (values >> s3)


def permutations(num_perm: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's own permutation parameters for (num_perm, seed)."""
    from datasketch import MinHash

    a, b = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
    return a.astype(np.uint32), b.astype(np.uint32)


def signatures(hashes: np.ndarray, offsets: np.ndarray, a: np.ndarray, b: np.ndarray,
               block: int = 1 << 16) -> np.ndarray:
    """[texts x num_perm] uint32 MinHash values; a text without shingles gets all-max."""
    signature = np.full((len(offsets) - 1, len(a)), np.iinfo(np.uint32).max, np.uint32)
    present = np.flatnonzero(np.diff(offsets) > 0)
    if len(present) == 0:
        return signature
    mixed = fmix32(hashes)
    # blocks of whole texts small enough to stay in cache for all the permutations
    ends = np.searchsorted(offsets, np.arange(block, offsets[-1] + block, block), side="right") - 1
    first = 0
    for last in np.unique(np.maximum(ends, 1)):
        rows = present[(present >= first) & (present < last)]
        if len(rows) == 0:
            first = last
            continue
        lo, hi = offsets[rows[0]], offsets[rows[-1] + 1]
        part = mixed[lo:hi]
        buffer = np.empty_like(part)
        starts = offsets[rows] - lo
        for k in range(len(a)):
            np.multiply(part, a[k], out=buffer)
            np.add(buffer, b[k], out=buffer)
            signature[rows, k] = np.minimum.reduceat(buffer, starts)
        first = last
    return signature


def choose_bands(threshold: float, num_perm: int, recall: float = 0.995) -> tuple[int, int]:
    """Bands x rows with the most rows (fewest false candidates) that still finds `recall`
    of the pairs whose Jaccard is exactly `threshold`; candidates are verified exactly later."""
    for rows in range(num_perm, 0, -1):
        bands = num_perm // rows
        if 1 - (1 - threshold**rows) ** bands >= recall:
            return bands, rows
    return num_perm, 1
