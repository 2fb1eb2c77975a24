"""MinHash sketches: signatures bit-for-bit datasketch's, bulk tokens, shingles and exact keys
equal to each text's own, and the stored shingle sets the verifier reads."""

import json
import random
from pathlib import Path

import numpy as np
import pytest
from datasketch import MinHash

from curate.filters.dedup import DedupConfig, sketched
from curate.filters.minhash import choose_bands, permutations, shingle_hash32, shingle_hashes, signatures, tokens
from tests.test_dedup import WORDS, essay


@pytest.mark.parametrize("text", [
    "The quick brown fox jumps over the lazy dog, again -- and again!",
    "Ünïcödé  café déjà-vu — naïve façade résumé coöperate",
    "光合作用是植物利用光能把二氧化碳和水转化为有机物的过程。",
    "short", "", "!!! ...", "Tabs\tand\nnewlines  everywhere   here and there",
])
def test_signatures_match_datasketch(text):
    """datasketch's MinHash fed the same 32-bit shingle hashes gives the same values."""
    hashes, offsets = shingle_hashes([text], 5)
    ours = signatures(hashes, offsets, *permutations(128, seed=1))[0]
    words = tokens(text)
    shingles = [words[i : i + 5] for i in range(len(words) - 4)] if len(words) >= 5 else ([words] if words else [])
    reference = MinHash(num_perm=128, seed=1, hashfunc=lambda s: shingle_hash32(s.split("\x1f")))
    for shingle in shingles:
        reference.update("\x1f".join(shingle))
    assert offsets[1] - offsets[0] == len(shingles)
    assert np.array_equal(ours, reference.hashvalues)


def test_bulk_and_one_by_one_agree():
    rng = random.Random(3)
    texts = [essay(rng, rng.randint(0, 30)) for _ in range(50)] + ["中文文本测试一下吧", ""]
    hashes, offsets = shingle_hashes(texts, 5)
    for i, text in enumerate(texts):
        single, _ = shingle_hashes([text], 5)
        assert np.array_equal(hashes[offsets[i] : offsets[i + 1]], single)


def test_bulk_tokens_are_the_tokens_of_each_text():
    # chunks whose texts (the last one too) end in whitespace after non-ASCII words: Arrow's
    # split kernel reads the byte past its data, and once kept a trailing space on a last word
    from curate.filters.minhash import _token_hashes, _word_hashes

    rng = random.Random(7)
    pieces = ["word", "Über", "naïve", "中文", "文", "ﬁ", "«x»", " ", "  ", "\n", "\t", "\u3000", "!", "...",
              "\x1c", "\x1f", "\x0b"]  # str.split splits at \x1c-\x1f too; Arrow's ASCII kernel did not
    for _ in range(3000):
        texts = ["".join(rng.choice(pieces) for _ in range(rng.randrange(0, 9))) for _ in range(rng.randrange(1, 7))]
        hashes, offsets = _token_hashes(texts)
        for i, text in enumerate(texts):
            assert hashes[offsets[i]:offsets[i + 1]].tolist() == _word_hashes(tokens(text)).tolist(), texts


def test_exact_hashes_are_the_hashes_of_each_texts_duplicate_key():
    # computed without duplicate_key (on bytes, or from the tokens' normalised form): the same keys
    from xxhash import xxh3_64_intdigest

    from curate.filters.minhash import NO_TEXT, exact_hashes
    from curate.text import duplicate_key

    rng = random.Random(11)
    pieces = ["Word", "ÜBER", "naïve", "中文", "İs", "ß", "ＦＵＬＬ", "ﬁ", "\x1c", " ", "  ", "\n", "\t", "\u3000",
              "\xa0", "\u2028", "!", "..."]
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randrange(0, 9))) for _ in range(3000)]
    slice_file = Path(__file__).parent / "data" / "t0_slice.jsonl"  # real prompts: quotes, accents, Unicode
    texts += [json.loads(line)["instruction"] for line in slice_file.read_bytes().splitlines()]
    expected = np.array([xxh3_64_intdigest(duplicate_key(text).encode()) for text in texts], np.uint64)
    expected[[not duplicate_key(text) for text in texts]] = NO_TEXT
    assert exact_hashes(texts).tolist() == expected.tolist()
    # what lets the split follow the lower-casing: it neither makes nor unmakes a space
    assert not [c for c in map(chr, range(0x110000)) if not "\ud800" <= c <= "\udfff"
                and (c.isspace() != any(ch.isspace() for ch in c.lower()) or (c.isspace() and c.lower() != c))]


def test_exact_jaccard_of_the_stored_sets_equals_set_jaccard(tmp_path):
    rng = random.Random(0)
    texts = [" ".join(rng.choice(WORDS[:8]) for _ in range(rng.randint(0, 40))) for _ in range(60)]
    store = sketched(texts, tmp_path, DedupConfig())
    pairs = np.array([(i, j) for i in range(60) for j in range(i + 1, 60)][:500])
    bulk = store.jaccards(pairs[:, 0], pairs[:, 1])
    for (i, j), value in zip(pairs, bulk):
        a, b = set(shingle_hashes([texts[i]], 5)[0].tolist()), set(shingle_hashes([texts[j]], 5)[0].tolist())
        assert value == pytest.approx(len(a & b) / len(a | b) if a and b else 0.0)


def test_stored_sets_are_each_texts_sorted_distinct_shingles():
    from curate.filters.lsh import unique_sorted_sets

    rng = np.random.default_rng(4)
    for _ in range(200):
        sizes = rng.integers(0, 12, rng.integers(0, 8))
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        hashes = rng.choice(np.array([0, 1, 7, 2**31, 2**32 - 1], np.uint32), int(offsets[-1]))
        sets, set_offsets = unique_sorted_sets(hashes, offsets)
        assert sets.dtype == np.uint32 and len(set_offsets) == len(offsets)
        for i in range(len(sizes)):
            own = hashes[offsets[i]:offsets[i + 1]]
            assert sets[set_offsets[i]:set_offsets[i + 1]].tolist() == sorted(set(own.tolist()))


def test_a_pair_found_apart_is_verified_once_and_the_answers_stay_the_same(tmp_path):
    # a pair just under the threshold shares a bucket in several bands: it is verified the first time only
    rng = random.Random(1)
    texts = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(30, 60))) for _ in range(20)]
    texts += [text + " " + rng.choice(WORDS) for text in texts]  # near copies: J >= 0.8
    store = sketched(texts, tmp_path, DedupConfig())
    verified = []
    verify = store.verifier.similar
    store.verifier.similar = lambda a, b: verified.append(len(a)) or verify(a, b)
    pairs = np.array([(i, j) for i in range(40) for j in range(i + 1, 40)])
    first = store.similar(pairs[:, 0], pairs[:, 1])
    again = store.similar(pairs[::-1, 1], pairs[::-1, 0])  # the same pairs, each the other way round
    assert np.array_equal(again, first[::-1]) and np.array_equal(first, verify(pairs[:, 0], pairs[:, 1]))
    assert first.sum() >= 20 and verified == [len(pairs), int(first.sum())]  # again: only those found similar


def test_permutations_are_datasketchs():
    for num_perm, seed in ((128, 1), (64, 7), (256, 42)):
        a, b = permutations(num_perm, seed)
        reference = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
        assert np.array_equal(a, reference[0].astype(np.uint32)) and np.array_equal(b, reference[1].astype(np.uint32))


def test_band_choice_reaches_recall_at_the_threshold():
    bands, rows = choose_bands(0.8, 128)
    assert bands * rows <= 128 and 1 - (1 - 0.8**rows) ** bands >= 0.995
    assert (bands, rows) == (21, 6)
