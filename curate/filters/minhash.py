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
from typing import Any

import numpy as np
from xxhash import xxh3_64_intdigest as _xxh3

from curate.text import ASCII_SPACES, CJK_RANGES, collapsed

# CJK text has no spaces: each of its characters counts as a word.
_CJK_CHARS = CJK_RANGES
_CJK = re.compile(f"[{_CJK_CHARS}]")
_NON_CJK_WORD = re.compile(f"[^\\W{_CJK_CHARS}]")  # a letter or digit of another script
# what is trimmed off the ends of a word: ASCII and common CJK/typographic punctuation
PUNCTUATION = string.punctuation + "“”‘’«»—–…·•，。！？；：、（）《》〈〉【】「」『』～"
_POLY = np.uint32(0x01000193)  # FNV-1 prime: mixes each word's place in the n-gram
_FMIX32 = (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35), np.uint32(16))


# code points that are never tokens: spaces (all below U+3001) and the punctuation above
_SKIPPED = np.zeros(0x110000, bool)
_SKIPPED[[ord(c) for c in PUNCTUATION] + [c for c in range(0x3001) if chr(c).isspace()]] = True


def _normalised(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def _only_cjk(normalised: str) -> bool:
    """Nothing but CJK characters, spaces and punctuation: every character is a token."""
    return not normalised.isascii() and _NON_CJK_WORD.search(normalised) is None


def _spaced(text: str) -> str:
    """NFKC, lower case, and every CJK character set apart by spaces."""
    text = _normalised(text)
    if text.isascii():
        return text
    return " ".join(text) if _only_cjk(text) else _CJK.sub(r" \g<0> ", text)


def tokens(text: str) -> list[str]:
    """The units shingles are made of: lower-cased words with their punctuation trimmed, where
    every CJK character is a word of its own (those scripts put no spaces between words), so
    Chinese text is shingled by characters and English by words, with no per-record switch."""
    trimmed = (word.strip(PUNCTUATION) for word in _spaced(text).split())
    return [word for word in trimmed if word]


def _segment_sums(values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Per-segment sums (wrapping, for unsigned hashes); empty segments sum to 0."""
    running = np.concatenate([np.zeros(1, values.dtype), np.cumsum(values, dtype=values.dtype)])
    return running[offsets[1:]] - running[offsets[:-1]]


def normalised_forms(texts: list[str]) -> dict[int, str]:
    """NFKC and lower case of each non-ASCII text, by position: made once, for its tokens and
    its exact key (ASCII texts need neither: Arrow and bytes methods lower them in C)."""
    return {i: _normalised(text) for i, text in enumerate(texts) if not text.isascii()}


def _token_hashes(texts: list[str], normalised: dict[int, str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """32-bit hashes of every token of every text, flat, with per-text offsets.

    Texts made only of CJK characters (and spaces and punctuation) have one-character tokens,
    read straight off their UTF-32 code points; the rest go through Arrow, which lower-cases
    and splits them in C++ and dictionary-encodes the words, so the Python work (trimming
    punctuation, hashing) is done once per distinct word, not once per word.
    """
    if normalised is None:
        normalised = normalised_forms(texts)
    if not normalised:
        return _word_tokens(texts, None)
    ascii = [i for i in range(len(texts)) if i not in normalised]
    characters = [i for i, text in normalised.items() if _only_cjk(text)]
    words = [i for i, text in normalised.items() if not _only_cjk(text)]
    parts = []
    if ascii:  # ASCII texts take the fast path even in a chunk with a few others
        parts.append((ascii, _word_tokens([texts[i] for i in ascii], None)))
    if characters:
        parts.append((characters, _character_tokens([normalised[i] for i in characters])))
    if words:
        spaced = [_cjk_spaced(normalised[i]) for i in words]
        parts.append((words, _word_tokens([texts[i] for i in words], spaced)))
    return _interleave(len(texts), parts)


def _cjk_spaced(normalised: str) -> str:
    """Each CJK character set apart by spaces; most non-ASCII text has none, and the regex's
    scan (7 ns a character) is skipped where the highest code point is below them all."""
    if normalised and np.frombuffer(normalised.encode("utf-32-le"), np.uint32).max() < _FIRST_CJK:
        return normalised
    return _CJK.sub(r" \g<0> ", normalised)


_FIRST_CJK = min(ord(c) for c in CJK_RANGES if c != "-")


def exact_hashes(texts: list[str], normalised: dict[int, str] | None = None) -> np.ndarray:
    """Per text, the 64-bit hash of curate.text.duplicate_key (whitespace runs collapsed, NFKC,
    lower case), computed without it: on bytes for ASCII, and from the normalised form made
    once for the tokens otherwise (lower case commutes with splitting: no character's lower
    case is a space, nor a space's anything else). An empty key hashes to NO_TEXT."""
    if normalised is None:
        normalised = normalised_forms(texts)
    keys = [" ".join(normalised[i].split()).encode() if i in normalised else collapsed(text.encode()).lower()
            for i, text in enumerate(texts)]
    hashes = np.fromiter(map(_xxh3, keys), np.uint64, len(keys))
    hashes[[not key for key in keys]] = NO_TEXT
    return hashes


NO_TEXT = np.uint64(0)  # the exact hash of an empty text: it joins no group (no text's hash is 0 but 1 in 2**64)


def _word_tokens(texts: list[str], prepared: list[str] | None) -> tuple[np.ndarray, np.ndarray]:
    import pyarrow.compute as pc

    if prepared is None:  # all ASCII: NFKC already, and Arrow's ASCII kernels are faster
        # they split at six spaces; str.split (what tokens() does) also at \x1c-\x1f
        words = pc.ascii_split_whitespace(pc.ascii_lower(_large_strings(texts, ASCII_SPACES)))
    else:
        words = pc.utf8_split_whitespace(_large_strings(prepared))
    offsets = _integers(words.offsets).astype(np.int64)
    encoded = pc.dictionary_encode(words.flatten())
    distinct = [word.strip(PUNCTUATION) for word in encoded.dictionary.to_pylist()]
    indices, offsets = _drop(_integers(encoded.indices), offsets, [not w for w in distinct])
    return _word_hashes(distinct)[indices], offsets


# Arrow in and out without pa.array(list) or Array.to_numpy(): the first call of either imports
# pandas (to ask whether the list is a pandas object; to convert), 0.3 s and ~30 MB in each
# process that sketches.

def _large_strings(texts: list[str], table: bytes | None = None) -> Any:
    """An Arrow large_string array of `texts`, built from their UTF-8 bytes, with a NUL byte
    after the last: pyarrow's utf8_split_whitespace (26.0) reads the byte past the data, and
    where that is >= 0x80 it leaves trailing whitespace on the last text's last word. After
    pa.array's buffer that byte is whatever memory holds, so tokens changed from run to run."""
    import pyarrow as pa

    data = [text.encode("utf-8") for text in texts]
    offsets = np.zeros(len(data) + 1, np.int64)
    np.cumsum(np.fromiter(map(len, data), np.int64, len(data)), out=offsets[1:])
    joined = b"".join([*data, b"\0"])
    if table is not None:  # a byte-for-byte translation keeps every offset
        joined = joined.translate(table)
    return pa.LargeStringArray.from_buffers(len(data), pa.py_buffer(offsets), pa.py_buffer(joined))


def _integers(array: Any) -> np.ndarray:
    """The values of a null-free Arrow array of signed integers, as numpy (a read-only view)."""
    assert array.null_count == 0, "integers with nulls"
    dtype = np.dtype(f"int{array.type.bit_width}")
    return np.frombuffer(array.buffers()[1], dtype, count=len(array), offset=array.offset * dtype.itemsize)


def _character_tokens(normalised: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Every character of these (normalised) texts that is neither a space nor punctuation."""
    points = np.frombuffer("".join(normalised).encode("utf-32-le"), np.uint32)
    offsets = np.concatenate([[0], np.cumsum([len(text) for text in normalised])]).astype(np.int64)
    keep = ~_SKIPPED[points]
    offsets = np.concatenate([[0], np.cumsum(_segment_sums(keep.astype(np.int64), offsets))])
    points = points[keep]
    # a table indexed by code point instead of np.unique: no sort of millions of characters
    present = np.zeros(len(_SKIPPED), bool)
    present[points] = True
    distinct = np.flatnonzero(present)
    table = np.zeros(len(_SKIPPED), np.uint32)
    table[distinct] = _word_hashes([chr(point) for point in distinct.tolist()])
    return table[points], offsets


def _interleave(count: int, parts: list[tuple[list[int], tuple[np.ndarray, np.ndarray]]]) -> tuple[np.ndarray, np.ndarray]:
    """Put the token runs of several groups of texts back in text order."""
    lengths = np.zeros(count, np.int64)
    for rows, (_, offsets) in parts:
        lengths[rows] = np.diff(offsets)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    out = np.empty(offsets[-1], np.uint32)
    for rows, (values, own) in parts:
        sizes = np.diff(own)
        out[np.repeat(offsets[rows] - own[:-1], sizes) + np.arange(len(values))] = values
    return out, offsets


def _drop(indices: np.ndarray, offsets: np.ndarray, empty: list[bool]) -> tuple[np.ndarray, np.ndarray]:
    """Remove the positions whose distinct word is flagged empty, keeping offsets right."""
    flags = np.array(empty, dtype=bool)
    if not flags.any():
        return indices, offsets
    keep = ~flags[indices]
    return indices[keep], np.concatenate([[0], np.cumsum(_segment_sums(keep.astype(np.int64), offsets))])


def _word_hashes(words: list[str]) -> np.ndarray:
    """Stable 32-bit word hashes (the high half of XXH3-64 of the UTF-8 bytes): the same on
    every run and in every process."""
    hashed = np.fromiter(map(_xxh3, map(str.encode, words)), np.uint64, len(words))
    return (hashed >> np.uint64(32)).astype(np.uint32)


_POLY64 = np.uint64(0x100000001B3)  # FNV-1 64-bit prime, for the wide n-gram hashes


def _combine(words: np.ndarray, poly: np.unsignedinteger = _POLY) -> np.unsignedinteger:
    value = np.zeros(1, poly.dtype)
    for word in words.astype(poly.dtype):
        value = value * poly + word
    return value[0]


def shingle_hash32(shingle: list[str]) -> int:
    """The 32-bit hash of one shingle (its tokens in order), as the vectorised path computes it."""
    return int(_combine(_word_hashes(shingle)))


def shingle_hashes(texts: list[str], ngram: int, wide: bool = False,
                   normalised: dict[int, str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """uint32 hashes of every n-gram shingle of every text, flat, with per-text offsets
    (uint64 with `wide`: for n-gram matching between large sets, where 32 bits collide).

    A text shorter than `ngram` tokens is one shingle of all its tokens; an empty one has none.
    `normalised`: normalised_forms(texts), where the caller made them already.
    """
    poly = _POLY64 if wide else _POLY
    words, word_offsets = _token_hashes(texts, normalised)
    words = words.astype(poly.dtype)
    lengths = np.diff(word_offsets)
    counts = np.where(lengths >= ngram, lengths - ngram + 1, (lengths > 0).astype(np.int64))
    offsets = np.concatenate([[0], np.cumsum(counts)])
    if len(words) < ngram:
        windows = np.zeros(0, poly.dtype)
    else:
        windows = np.zeros(len(words) - ngram + 1, poly.dtype)
        for i in range(ngram):
            np.multiply(windows, poly, out=windows)
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
        singles = [_combine(words[word_offsets[r] : word_offsets[r + 1]], poly) for r in short]
        shingles = np.insert(shingles, offsets[short] - np.arange(len(short)), np.array(singles, poly.dtype))
    return shingles, offsets


def fmix32(values: np.ndarray) -> np.ndarray:
    s1, m1, s2, m2, s3 = _FMIX32
    values = values ^ (values >> s1)
    values = values * m1
    values = values ^ (values >> s2)
    values = values * m2
    return values ^ (values >> s3)


def permutations(num_perm: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's own permutation parameters for (num_perm, seed), scheme affine32: an odd
    multiplier and any offset, drawn from NumPy's RandomState as datasketch draws them
    (tests/test_dedup.py checks them against datasketch; importing it here costs 0.5 s)."""
    generator = np.random.RandomState(seed)
    a = generator.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = generator.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


def signatures(hashes: np.ndarray, offsets: np.ndarray, a: np.ndarray, b: np.ndarray,
               block: int = 1 << 18) -> np.ndarray:
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
