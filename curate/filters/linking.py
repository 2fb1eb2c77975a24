"""Near-duplicate clusters from the sketches of a SketchStore (curate/filters/lsh.py): a
union-find over text indices, and the links made into it.

Linking: exact copies join the first of their group (`link_exact`, one sort). Then, band by
band (`link_near`), the texts sharing a band key form a bucket. A small bucket (up to
SMALL_BUCKET texts) compares every pair not yet in one component. A large one of few
components (near copies of a few texts) is reduced to one member per component found so far,
and those are compared with a leader in rounds: the first, then the first of those that did
not match it, and so on, all buckets of the band at once. Which member stands for a
component, and which leads, is a hash of the member and the band, so the ~5 bands that a pair
at J = 0.8 shares put different members face to face. Every large bucket starts with
FIRST_ROUNDS such round, which links near copies of its leader; only then are its components
counted (in the first bands, copies of a few texts are as many components as texts, and were
sent to prefix filtering, which cost 4.2 s at 1M records of bench/dedup.py's scale file against
0.13 s at 200k). A large bucket still of many components (templated prompts whose slots
differ: rounds there cost components x members, quadratic in the bucket) gets candidate pairs
of all its members by prefix filtering instead (`_prefix_pairs`), where that
costs less: every pair at the threshold shares a shingle of both prefixes, and on such prompts
the rarest shingles are the slots', shared by no other text. (A shingle in more than
SMALL_BUCKET prefixes, as near copies share, sends its texts to leader rounds.) There is no
bucket-size cut-off.

Memory: the union-find parent (8 bytes a text), one band's bucket arrays, and up to PREFIX_BATCH
shingles of large buckets for prefix filtering (~100 MB).
"""

from __future__ import annotations

import numpy as np

from curate.filters.lsh import MIX, Rejections, SketchStore, run_starts
from curate.filters.minhash import NO_TEXT

SMALL_BUCKET = 16  # a bucket this small compares every pair; a larger one, members with leaders


class Components:
    """Union-find over array indices, vectorised: `union` takes arrays of pairs."""

    def __init__(self, size: int):
        self.parent = np.arange(size, dtype=np.int64)

    def roots(self, items: np.ndarray) -> np.ndarray:
        found = self.parent[items]
        while True:
            above = self.parent[found]
            if np.array_equal(above, found):
                return found
            found = above

    def union(self, a: np.ndarray, b: np.ndarray) -> None:
        """Join each a[k] with b[k]; the smaller index becomes the root."""
        while len(a):
            ra, rb = self.roots(a), self.roots(b)
            apart = ra != rb
            ra, rb, a, b = ra[apart], rb[apart], a[apart], b[apart]
            low, high = np.minimum(ra, rb), np.maximum(ra, rb)
            self.parent[high] = low  # of several links into one root, one lands: go round again

    def compress(self) -> None:
        while True:
            above = self.parent[self.parent]
            if np.array_equal(above, self.parent):
                return
            self.parent = above

    def labels(self) -> np.ndarray:
        self.compress()
        return self.parent


def link_exact(store: SketchStore, components: Components) -> np.ndarray:
    """Join exact copies (equal normalised text) to the first of their group; returns, for each
    text, the first text of its exact group (itself if it has no copy)."""
    assert store.exact is not None
    order = np.argsort(store.exact, kind="stable")
    starts = run_starts(store.exact[order])
    first = order[np.flatnonzero(starts)][np.cumsum(starts) - 1]
    leader = np.empty(len(order), np.int64)
    leader[order] = first
    empty = np.flatnonzero(store.exact == NO_TEXT)
    leader[empty] = empty  # empty texts are copies of nothing
    copies = np.flatnonzero(leader != np.arange(len(leader)))
    components.union(leader[copies], copies)
    return leader


def link_near(store: SketchStore, components: Components, candidates: np.ndarray) -> int:
    """Join verified near duplicates among `candidates` (indices), band by band; returns the
    number of comparisons made."""
    compared = 0
    for band in range(store.bands):
        bucket, members = _unlinked(components, *band_buckets(store, band, candidates))
        sizes = np.bincount(bucket)[bucket]
        small, large = (sizes > 1) & (sizes <= SMALL_BUCKET), sizes > SMALL_BUCKET
        compared += _link_all_pairs(store, components, bucket[small], members[small])
        # large buckets start with a leader round, which links near copies of the leader:
        # until then a bucket of copies of a few texts looks like one of as many components as
        # members (in the first bands, nothing has linked them yet)
        first_rounds, left_bucket, left = _link_buckets(store, components, bucket[large], members[large],
                                                        salt=band, rounds=FIRST_ROUNDS)
        compared += first_rounds
        # the rest go on in leader rounds, unless those could cost more comparisons than prefix
        # filtering handles shingles (templated prompts, their slots filled differently); that
        # takes every member of the bucket, as it finds every pair at the threshold among them
        left_bucket, left = _one_per_component(components, left_bucket, left, band)
        many = _rounds_cost_more(store, components, left_bucket, left)
        compared += _link_buckets(store, components, left_bucket[~many], left[~many], salt=band)[0]
        prefixed = np.flatnonzero(large)[np.isin(bucket[large], left_bucket[many])]
        compared += _link_by_prefixes(store, components, bucket[prefixed], members[prefixed], salt=band)
        components.compress()  # short paths for the next band's look-ups (once a band: it costs O(n))
    return compared


def band_buckets(store: SketchStore, band: int, members: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(bucket number, member) for `members` sorted by their key in `band`: members sharing a
    key share a bucket number; buckets are numbered 0, 1, ... in key order and contiguous."""
    keys = np.asarray(store.band(band))[members]
    order = np.argsort(keys, kind="stable")
    return np.cumsum(run_starts(keys[order])) - 1, members[order]


def _unlinked(components: Components, bucket: np.ndarray, members: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The buckets that hold texts of two components or more, renumbered 0, 1, ...: a bucket
    whose texts earlier bands joined (or of one text) has nothing left to link, yet each route
    sorted its members again (at 1M records of bench/dedup.py's scale file, where a text has ~35
    near copies, 7.3M members went to leader rounds over the 21 bands; 2.5M without such buckets)."""
    if not len(members):
        return bucket, members
    roots = components.roots(members)
    first = np.flatnonzero(run_starts(bucket))
    keep = (np.minimum.reduceat(roots, first) != np.maximum.reduceat(roots, first))[bucket]
    bucket, members = bucket[keep], members[keep]
    return np.cumsum(run_starts(bucket)) - 1, members


def _link_all_pairs(store: SketchStore, components: Components, bucket: np.ndarray, members: np.ndarray) -> int:
    """Every pair of a small bucket whose two texts are not yet in one component, verified in
    one batch for the whole band (a call per bucket size cost more than the checks)."""
    sizes = np.bincount(bucket)
    pairs = []
    for size in np.unique(sizes[sizes > 1]).tolist():
        rows = members[sizes[bucket] == size].reshape(-1, size)  # buckets are contiguous runs
        i, j = np.triu_indices(size, 1)
        pairs.append((rows[:, i].ravel(), rows[:, j].ravel()))
    if not pairs:
        return 0
    a, b = (np.concatenate(side) for side in zip(*pairs))
    apart = components.roots(a) != components.roots(b)
    a, b = a[apart], b[apart]
    match = store.similar(a, b)
    components.union(a[match], b[match])
    return len(a)


def _rounds_cost_more(store: SketchStore, components: Components, bucket: np.ndarray, members: np.ndarray
                      ) -> np.ndarray:
    """Per member: could its bucket's leader rounds cost more than prefix filtering would? Rounds
    compare up to (components x members) pairs, one round per component in the worst case;
    prefix filtering costs a few sorts of the members' shingles. Near copies make buckets of
    few components (rounds link them in one or two), templated prompts buckets of as many
    components as members."""
    if not len(members):
        return np.zeros(0, bool)
    assert store.set_offsets is not None
    roots = components.roots(members)
    order = np.lexsort((roots, bucket))
    distinct = run_starts(bucket[order], roots[order])
    size = int(bucket.max()) + 1
    per_bucket = np.bincount(bucket[order][distinct], minlength=size)
    count = np.bincount(bucket, minlength=size)
    shingles = np.bincount(bucket, weights=np.diff(store.set_offsets)[members], minlength=size)
    costly = (per_bucket > MANY_COMPONENTS) & (per_bucket * count > ROUNDS_PER_SHINGLE * shingles)
    return costly[bucket]


# leader rounds every large bucket has before its route is chosen: 4 made templated prompts,
# whose first rounds link nothing, 67% slower (32k of one template) and gained nothing at 1M
# records of the scale file
FIRST_ROUNDS = 1
MANY_COMPONENTS = 64  # below this, a bucket's rounds are few whatever its size
ROUNDS_PER_SHINGLE = 4  # comparisons of leader rounds worth one shingle of prefix filtering
PREFIX_BATCH = 1_000_000  # shingles of large buckets joined at a time (~100 MB of arrays)
PREFIX_VERIFY_PART = 4_096  # unsure pairs verified between two looks at the components


def _link_by_prefixes(store: SketchStore, components: Components, bucket: np.ndarray, members: np.ndarray,
                      salt: int = 0) -> int:
    """Large buckets of one band, whole buckets at a time up to PREFIX_BATCH shingles: each
    bucket's candidate pairs by prefix filtering, verified like any other (see _prefix_pairs)."""
    if not len(members):
        return 0
    compared = 0
    assert store.set_offsets is not None
    sizes = np.diff(store.set_offsets)[members]
    first = np.flatnonzero(run_starts(bucket))  # buckets are contiguous runs
    ends = np.cumsum(sizes)[np.r_[first[1:], len(bucket)] - 1]
    start = 0
    while start < len(first):
        done = ends[start - 1] if start else 0
        stop = max(start + 1, int(np.searchsorted(ends, done + PREFIX_BATCH, side="right")))
        part = slice(first[start], first[stop] if stop < len(first) else len(bucket))
        compared += _link_prefix_batch(store, components, bucket[part], members[part], salt)
        start = stop
    return compared


def _link_prefix_batch(store: SketchStore, components: Components, bucket: np.ndarray, members: np.ndarray,
                       salt: int) -> int:
    a, b, crowded_bucket, crowded = _prefix_pairs(store, bucket, members)
    compared = _link_buckets(store, components, crowded_bucket, crowded, salt=salt)[0]
    apart = components.roots(a) != components.roots(b)
    a, b = a[apart], b[apart]
    # the pairs the signatures decide first (no sets read), then the unsure ones still apart,
    # a part at a time: a bucket of near copies offers many pairs that one link makes moot
    assert store.verifier is not None
    sure, unsure_mask = store.verifier.decided(store.verifier.estimates(a, b))
    components.union(a[sure], b[sure])
    unsure = np.flatnonzero(unsure_mask)
    compared += len(a) - len(unsure)
    for start in range(0, len(unsure), PREFIX_VERIFY_PART):
        part = unsure[start:start + PREFIX_VERIFY_PART]
        part = part[components.roots(a[part]) != components.roots(b[part])]
        match = store.similar(a[part], b[part])
        components.union(a[part][match], b[part][match])
        compared += len(part)
    return compared


def _prefix_pairs(store: SketchStore, bucket: np.ndarray, members: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The pairs of each bucket that can reach the threshold, by prefix filtering (the index
    and probe prefixes of PPJoin, Xiao et al. 2008) over each text's shingles ordered rarest
    first within its bucket: a pair x, y with |y| <= |x| and Jaccard >= t shares a shingle
    among the first |y| - ceil(2t/(1+t) |y|) + 1 of y and the first |x| - ceil(t |x|) + 1 of x.
    Templated prompts fill a bucket with texts that share the template and differ in their
    slots; their rarest shingles are the slots', so they pair with nothing, where comparing
    every member with every other component's took time quadratic in the bucket.

    Returns (a, b) candidate pairs, and (bucket, member) of the texts that share a shingle with
    more than SMALL_BUCKET others' prefixes, for leader rounds."""
    assert store.set_offsets is not None and store.sets is not None
    threshold = store.threshold
    sizes = np.diff(store.set_offsets)[members]
    owner = np.repeat(np.arange(len(members)), sizes)  # the member each shingle belongs to
    begins = np.cumsum(sizes) - sizes
    at = np.repeat(store.set_offsets[members] - begins, sizes) + np.arange(len(owner))
    shingles = store.sets[at].astype(np.uint64)
    # how many texts of the bucket hold each shingle
    keys = (bucket[owner].astype(np.uint64) << np.uint64(32)) | shingles
    order = np.argsort(keys, kind="stable")
    run = np.cumsum(run_starts(keys[order])) - 1
    frequency = np.empty(len(keys), np.int64)
    frequency[order] = np.bincount(run)[run]
    # each text's shingles rarest first; a shingle's place among them
    order = np.lexsort((shingles, frequency, owner))
    owner, keys = owner[order], keys[order]
    place = np.arange(len(owner)) - np.repeat(begins, sizes)
    # (a hair under t|x|, so rounding never shortens a prefix)
    probe = place < (sizes - np.ceil(threshold * sizes - 1e-9) + 1)[owner]
    index = place < (sizes - np.ceil(2 * threshold / (1 + threshold) * sizes - 1e-9) + 1)[owner]
    probe_keys, probe_owner = keys[probe], owner[probe]
    index_keys, index_owner = keys[index], owner[index]
    by_key = np.argsort(probe_keys, kind="stable")
    probe_keys, probe_owner = probe_keys[by_key], probe_owner[by_key]
    low = np.searchsorted(probe_keys, index_keys, side="left")
    high = np.searchsorted(probe_keys, index_keys, side="right")
    # a shingle in many prefixes: near copies of one text, as a rule (a slot too small to give
    # a text shingles of its own). Their texts go to leader rounds with the rest of their bucket
    # that shares such a shingle, which link copies in a round or two
    crowded = high - low > SMALL_BUCKET
    crowded_owners = np.unique(probe_owner[np.isin(probe_keys, index_keys[crowded])])
    # every other (index, probe) pair of a shingle
    low, high, index_owner = low[~crowded], high[~crowded], index_owner[~crowded]
    counts = high - low
    y = np.repeat(index_owner, counts)
    x = probe_owner[np.repeat(low - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())]
    # y is the smaller text (by size, then position); and the sizes must allow the threshold
    keep = ((sizes[y] < sizes[x]) | ((sizes[y] == sizes[x]) & (y < x))) & (sizes[y] >= threshold * sizes[x] - 1e-9)
    pairs = np.unique(Rejections.keys(members[x[keep]], members[y[keep]]))
    return ((pairs >> np.uint64(32)).astype(np.int64), (pairs & np.uint64(0xFFFFFFFF)).astype(np.int64),
            bucket[crowded_owners], members[crowded_owners])


def _link_buckets(store: SketchStore, components: Components, bucket: np.ndarray, members: np.ndarray,
                  salt: int = 0, rounds: int | None = None) -> tuple[int, np.ndarray, np.ndarray]:
    """Leader rounds over every large bucket of one band at once (see the module docstring),
    until every member is done or after `rounds`. Returns the comparisons made and (bucket,
    member) of those left for a next leader."""
    compared = 0
    while len(members) and rounds != 0:
        bucket, members = _one_per_component(components, bucket, members, salt)
        if not len(members):
            break
        first = run_starts(bucket)  # the leader of each bucket: its member of lowest priority
        leader = members[first][np.cumsum(first) - 1]
        others = ~first
        a, b = leader[others], members[others]
        match = store.similar(a, b)
        compared += len(a)
        components.union(a[match], b[match])
        # the leaders are done; who did not match goes on to the next leader of its bucket
        keep = np.flatnonzero(others)[~match]
        bucket, members = bucket[keep], members[keep]
        rounds = None if rounds is None else rounds - 1
    return compared, bucket, members


def _one_per_component(components: Components, bucket: np.ndarray, members: np.ndarray, salt: int
                       ) -> tuple[np.ndarray, np.ndarray]:
    """One member per (bucket, component), each bucket's in order of priority, and only buckets
    of two components or more. Which member stands for a component, and which leads, is a hash
    of the member and the band: another band's bucket of the same texts compares other members."""
    roots = components.roots(members)
    priority = (members.astype(np.uint64) + np.uint64(salt)) * MIX
    order = np.lexsort((priority, roots, bucket))
    bucket, members, roots = bucket[order], members[order], roots[order]
    distinct = run_starts(bucket, roots)
    bucket, members, priority = bucket[distinct], members[distinct], priority[order][distinct]
    order = np.lexsort((priority, bucket))
    bucket, members = bucket[order], members[order]
    first = run_starts(bucket)
    alone = first & np.concatenate([first[1:], [True]])
    return bucket[~alone], members[~alone]
