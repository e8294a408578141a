"""MovieLens-format ratings files (``u.data`` or ``ratings.csv``) read into positive pairs.

Ratings ≥ :data:`POSITIVE_RATING` are positives; users and items are remapped to 0..n−1. A
malformed file raises ``ValueError`` naming the file and the line; nothing is downloaded. A file
of more than :data:`MAX_RATINGS_BYTES` is refused before it is read (and one whose size said
less, as /proc's files, once that much is read), a line of more than :data:`MAX_LINE_CHARS` is
refused without reading more than a block past it, and a pipe or a terminal (``/dev/stdin``) is
refused: the file is read more than once. It is parsed a block at a time (:data:`BLOCK_BYTES`).

Memory is what bounds a large file, so each reading holds little more than its result:
:func:`load_ratings` fills arrays made for the file's line count (24 bytes a rating), and
:func:`file_positives` (what an env keeps: the distinct positive pairs, 16 bytes each) keeps a
block's positives at a time and turns them into sorted pairs in place (:func:`_remapped_pairs`),
at a peak of about the positives' 16 bytes and one block's parse.
"""

from __future__ import annotations

import functools
import io
import math
import os
import stat
import warnings

import numpy as np

from lrgym.files import file_problem, kind_of

POSITIVE_RATING = 4.0
CSV_HEADER = ("userid", "movieid", "rating", "timestamp")
#: ids are int64 (a larger one was a bare OverflowError of NumPy's)
_ID_MIN, _ID_MAX = -(2**63), 2**63 - 1
_RATING_DTYPE = [("user", np.int64), ("item", np.int64), ("rating", np.float64), ("timestamp", np.float64)]
#: the largest ratings file read: 2³¹ bytes (2 GiB), 2.4 times MovieLens's largest (ml-32m's
#: ratings.csv, 877 MB, 32 million ratings). A row takes at least 8 bytes ("1 1 4 0" and its line
#: end), so a file within it holds at most 2²⁸ ratings (the family's bound on positive pairs,
#: :data:`lrgym.tasks.base.MAX_ARRAY_ITEMS`). A larger file ran for minutes or out of memory in
#: ``np.loadtxt`` before any error; it is refused by its size, before it is opened.
MAX_RATINGS_BYTES = 2**31
#: the longest line read: a MovieLens line is under 60 characters; one of gigabytes (a file
#: without line ends) was read whole into memory before its columns were counted
MAX_LINE_CHARS = 4096
#: the bytes of whole lines parsed at a time (:func:`load_ratings`): ≈ 90,000 MovieLens rows
BLOCK_BYTES = 2**21


def _checked_file(path) -> str:
    """``path`` as a string if it is a regular file (links followed); else a ``ValueError`` saying
    what it is (a folder, a FIFO, a link loop: never opened, a FIFO would block) or that it is missing."""
    path = os.fspath(path)
    problem = file_problem(path)
    if problem is not None:
        raise ValueError(f"ratings file {path} {problem}; valid: a MovieLens u.data or ratings.csv file")
    st = os.stat(path)
    _check_regular(path, st.st_mode)
    size = st.st_size
    if size > MAX_RATINGS_BYTES:
        raise ValueError(f"ratings file {path} is {size:,} bytes ({size / 2**30:,.3g} GiB); valid: at most "
                         f"{MAX_RATINGS_BYTES:,} bytes (2 GiB; MovieLens's largest, ml-32m's ratings.csv, is 877 MB)")
    return path


def _check_regular(path: str, mode: int) -> None:
    """A ``ValueError`` unless ``mode`` is a regular file's: a descriptor the user hands over
    (``/dev/stdin``, bash's ``<(...)``), which :func:`~lrgym.files.file_problem` lets through, may
    be a pipe or a terminal, and a ratings file is read more than once (its format, its lines,
    its rows) and again by each env built from it, while a stream is read once, with no size."""
    if not stat.S_ISREG(mode):
        raise ValueError(f"ratings file {path} is {kind_of(mode)}; valid: a regular file (a MovieLens u.data or "
                         "ratings.csv, read again by each env built from it: a pipe or a terminal is read once; "
                         "save the stream to a file)")


def _lines(path: str, f):
    """(line number, line) of an open text file, refusing a line of more than
    :data:`MAX_LINE_CHARS` characters by its number, having read only that many of it."""
    line_no = 0
    while True:
        line = f.readline(MAX_LINE_CHARS + 1)
        if not line:
            return
        line_no += 1
        if len(line) > MAX_LINE_CHARS and not line.endswith("\n"):
            raise _bad_line(path, line_no, f"longer than {MAX_LINE_CHARS:,} characters; valid: a line of MovieLens "
                                           "ratings (user item rating timestamp)")
        yield line_no, line


def _bad_line(path: str, line_no: int, problem: str) -> ValueError:
    return ValueError(f"{path}, line {line_no}: {problem}")


def _parse_fields(path: str, line_no: int, fields: list[str]) -> tuple[int, int, float]:
    if len(fields) != 4:
        raise _bad_line(path, line_no, f"expected 4 columns (user item rating timestamp), got {len(fields)}")
    out = []
    for name, text in zip(("user id", "item id"), fields[:2]):
        try:
            value = int(text)
        except ValueError:
            raise _bad_line(path, line_no, f"{name} {text!r} is not an integer") from None
        if not _ID_MIN <= value <= _ID_MAX:
            raise _bad_line(path, line_no, f"{name} {text} out of range; valid: an integer of at most "
                                           f"{_ID_MAX:,} in magnitude (int64)")
        out.append(value)
    try:
        rating = float(fields[2])
    except ValueError:
        raise _bad_line(path, line_no, f"rating {fields[2]!r} is not a number") from None
    if not math.isfinite(rating):
        raise _bad_line(path, line_no, f"rating {fields[2]!r} is not finite")
    try:
        stamp = float(fields[3])
    except ValueError:
        raise _bad_line(path, line_no, f"timestamp {fields[3]!r} is not a number") from None
    if not math.isfinite(stamp):
        raise _bad_line(path, line_no, f"timestamp {fields[3]!r} is not finite")
    return out[0], out[1], rating


def _text_format(path: str) -> tuple[bool, int]:
    """(comma-separated, the header's line number or 0) of a ratings file, by its first non-blank
    line (:func:`load_ratings`)."""
    first_no, first = 0, ""
    with open(path, encoding="utf-8", errors="replace") as f:
        for first_no, first in _lines(path, f):
            if first.strip():
                break
    if not first.strip():
        raise ValueError(f"{path}, line 1: empty file, expected MovieLens ratings (u.data or ratings.csv)")
    if "," not in first:
        return False, 0
    names = tuple(x.strip().lower() for x in first.strip().split(","))
    if names != CSV_HEADER:
        raise ValueError(
            f"{path}, line {first_no}: a comma-separated ratings file must start with the header "
            f"userId,movieId,rating,timestamp, got {first.strip()!r}"
        )
    return True, first_no


def _blocks(path: str):
    """(number of the first line, bytes) of the file's whole lines, about :data:`BLOCK_BYTES` at a
    time: what is parsed at once, so the parse holds one block's rows beside its results. Reads
    no more than :data:`MAX_RATINGS_BYTES` (a file whose size says 0, as /proc's do, is bounded
    as it is read) and refuses a line of more than :data:`MAX_LINE_CHARS` by its number, having
    read at most a block past it."""
    with open(path, "rb") as f:
        _check_regular(path, os.fstat(f.fileno()).st_mode)  # (the file opened, if it was swapped meanwhile)
        line_no, rest, total = 1, b"", 0
        while True:
            block = f.read(BLOCK_BYTES)
            total += len(block)
            if total > MAX_RATINGS_BYTES:
                raise ValueError(f"ratings file {path} holds more than {MAX_RATINGS_BYTES:,} bytes (its size said "
                                 f"{os.fstat(f.fileno()).st_size:,}); valid: at most {MAX_RATINGS_BYTES:,} bytes (2 GiB)")
            data = _newlines(rest + block, more=bool(block))
            cut = len(data) if not block else data.rfind(b"\n") + 1
            whole, rest = data[:cut], data[cut:]
            if whole:
                yield line_no, whole
                line_no += whole.count(b"\n")
            if len(rest) > MAX_LINE_CHARS and len(rest.decode("utf-8", errors="replace")) > MAX_LINE_CHARS:
                raise _bad_line(path, line_no, f"longer than {MAX_LINE_CHARS:,} characters; valid: a line of "
                                               "MovieLens ratings (user item rating timestamp)")
            if not block:
                return


def _newlines(data: bytes, more: bool) -> bytes:
    """``data`` with its line ends ``\\r\\n`` and ``\\r`` made ``\\n``, as a file read as text
    (universal newlines) has them; a last ``\\r`` is kept as it is while ``more`` follows (its
    ``\\n`` may begin the next read)."""
    if b"\r" not in data:
        return data
    held = b"\r" if more and data.endswith(b"\r") else b""
    return data[:len(data) - len(held)].replace(b"\r\n", b"\n").replace(b"\r", b"\n") + held


def _parse_block(path: str, first_no: int, block: bytes, is_csv: bool):
    """(user ids, item ids, ratings) of a block of whole lines starting at line ``first_no``,
    parsed by ``np.loadtxt``; when it rejects the block, a line-by-line pass over the block names
    its first bad line (or parses what ``np.loadtxt`` does not, as ``1_000``). Bytes that are no
    UTF-8 are U+FFFD to that pass (the line is then bad)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "input contained no data": a block of blank lines
            table = np.loadtxt(io.BytesIO(block), dtype=_RATING_DTYPE, delimiter="," if is_csv else None,
                               comments=None, ndmin=1, encoding="utf-8")
        if np.isfinite(table["rating"]).all() and np.isfinite(table["timestamp"]).all():
            return table["user"], table["item"], table["rating"]
    except (ValueError, OverflowError):  # OverflowError: an id beyond int64; the pass below names its line
        pass
    users, items, ratings = [], [], []
    for k, line in _lines(path, io.StringIO(block.decode("utf-8", errors="replace"))):
        text_line = line.strip()
        if text_line:
            u, i, r = _parse_fields(path, first_no + k - 1, text_line.split(",") if is_csv else text_line.split())
            users.append(u)
            items.append(i)
            ratings.append(r)
    return np.array(users, dtype=np.int64), np.array(items, dtype=np.int64), np.array(ratings, dtype=np.float64)


def _parsed_blocks(path: str):
    """(user ids, item ids, ratings) of each block of the ratings file ``path`` (checked), the
    csv header left out: :func:`load_ratings`' rows, a block at a time."""
    is_csv, header = _text_format(path)
    for first_no, block in _blocks(path):
        if first_no <= header:  # the header and the blank lines before it
            cut = -1
            for _ in range(header - first_no + 1):
                cut = block.find(b"\n", cut + 1)
                if cut < 0:
                    break
            if cut < 0:
                continue
            block, first_no = block[cut + 1:], header + 1
        yield _parse_block(path, first_no, block, is_csv)


def _no_ratings(path: str) -> ValueError:
    is_csv, header = _text_format(path)
    return ValueError(f"{path}, line {header + 1}: no ratings in the file")


def load_ratings(path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(user ids, item ids, ratings) of a MovieLens ``u.data`` or ``ratings.csv`` file.

    The format is chosen by the first non-blank line: a comma-separated file must start with
    the header ``userId,movieId,rating,timestamp``; otherwise the file is ``u.data``-style,
    whitespace separated, without header. Blank lines are skipped. Raises ``ValueError`` naming
    the file and the line for a wrong column count, a non-integer id, a non-numeric or
    non-finite rating, a non-numeric timestamp, and for a file without ratings.

    The file is parsed by ``np.loadtxt`` a block of :data:`BLOCK_BYTES` at a time into arrays
    made for its line count, so the parse's memory is the result's (24 bytes a rating) and a
    block's: one ``np.loadtxt`` of the whole file held 32 bytes a row and then the copies (a
    file of 2**28 short rows, within :data:`MAX_RATINGS_BYTES`, needed ≈ 14 GiB). When it rejects
    a block, a line-by-line pass over that block finds the first bad line for the error message.
    """
    path = _checked_file(path)
    users, items, ratings = _rows(path)
    if len(users) < len(users.base):  # (views of arrays of the line count) blank lines, the header: the
        users, items, ratings = users.copy(), items.copy(), ratings.copy()  # ratings alone are kept
    return users, items, ratings


def _rows(path: str):
    """(user ids, item ids, ratings) of the checked ratings file ``path``, in arrays made for its
    line count and filled a block at a time (views of them: cut to the rows)."""
    rows = _line_count(path)
    users, items, ratings = np.empty(rows, np.int64), np.empty(rows, np.int64), np.empty(rows, np.float64)
    n = 0
    for u, i, r in _parsed_blocks(path):
        if n + len(u) > rows:
            raise ValueError(f"ratings file {path} changed while it was read (more lines than it had); "
                             "valid: a file no one writes meanwhile")
        users[n:n + len(u)], items[n:n + len(u)], ratings[n:n + len(u)] = u, i, r
        n += len(u)
    if not n:
        raise _no_ratings(path)
    return users[:n], items[:n], ratings[:n]


def _positive_blocks(path: str):
    """(user ids, item ids) of the rows of the checked ratings file ``path`` rated
    :data:`POSITIVE_RATING` or more, as lists of one array a block: 16 bytes a positive, where
    arrays made for the line count held 16 bytes a line (ten times the positives when one rating
    in ten is one)."""
    user_blocks, item_blocks, rated = [], [], 0
    for u, i, r in _parsed_blocks(path):
        rated += len(r)
        keep = r >= POSITIVE_RATING
        if keep.any():
            user_blocks.append(u[keep])
            item_blocks.append(i[keep])
    if not rated:
        raise _no_ratings(path)
    return user_blocks, item_blocks


def _line_count(path: str) -> int:
    """The lines of ``path`` (its line ends, ``\\n``, ``\\r\\n`` or ``\\r``, and a last line without
    one): the most ratings it holds."""
    count, last = 0, b"\n"
    with open(path, "rb") as f:
        while block := f.read(BLOCK_BYTES):
            pair = last == b"\r" and block[:1] == b"\n"  # a "\r\n" cut between two reads: one line end
            count += block.count(b"\n") + block.count(b"\r") - block.count(b"\r\n") - pair
            last = block[-1:]
    return count + (last not in (b"\n", b"\r"))


def positives_from_ratings(users, items, ratings, threshold: float = POSITIVE_RATING):
    """Remapped positive pairs (u, i), n_users, n_items from ratings ≥ ``threshold``."""
    keep = ratings >= threshold
    if not keep.any():
        raise ValueError(f"no rating >= {threshold}: no positives")
    return _remapped_pairs([users[keep]], [items[keep]])


def _sorted_distinct(values: np.ndarray) -> np.ndarray:
    """The distinct values of ``values``, increasing, as ``np.unique`` gives them; ``values``
    (an array of the caller's own) is sorted in place. Beside the values it holds a byte a value
    (the mask) and the result: ``np.unique`` sorts a copy, or (NumPy 2.4, this venv's) builds a hash
    table, outside NumPy's arrays, so that tracemalloc sees none of it: 57 resident bytes a distinct
    int64 where sorting a copy took 17."""
    values.sort()
    if len(values) < 2:
        return values
    is_new = np.empty(len(values), dtype=bool)
    is_new[0] = True
    np.not_equal(values[1:], values[:-1], out=is_new[1:])
    return values[is_new]


#: the fewest distinct ids of blocks held before they are merged into the ids (512 KiB of them)
_HELD_IDS = 2**16


def _distinct_ids(blocks: list) -> np.ndarray:
    """The distinct ids of the arrays ``blocks``, increasing: each block's distinct ids, merged
    into the ids once they are more than the ids so far and :data:`_HELD_IDS`. Merging them all at
    the end held each block's (with users or items spread over the file, as many as the file's
    positives); merging at each block sorted the ids once a block."""
    ids, held, n_held = np.empty(0, blocks[0].dtype if blocks else np.int64), [], 0
    for k, block in enumerate(blocks):
        held.append(np.unique(block))
        n_held += len(held[-1])
        if n_held > max(len(ids), _HELD_IDS) or k == len(blocks) - 1:
            ids = _sorted_distinct(np.concatenate([ids, *held]))
            held, n_held = [], 0
    return ids


def _remapped_pairs(user_blocks: list, item_blocks: list):
    """The distinct (user, item) pairs of the positives, given as lists of arrays (one a block, of
    the caller's own: the lists are emptied), users and items remapped to 0..n−1 in increasing order
    of their ids, sorted by (user, item); n_users, n_items.

    The memory is what bounds a large file (the result is 16 bytes a positive pair), so each step
    frees what the next does not need:

    1. the users' ids and the items', increasing (:func:`_distinct_ids`: a few times the ids, small
       beside the blocks);
    2. each block's pairs become one int64 key u·n_items + i (n_users · n_items ≤ 2**56), the index
       of u in the sorted ids by ``np.searchsorted`` (what ``np.unique(..., return_inverse=True)``
       gives, holding 41 bytes a value: a copy, an argsort, the sorted copy, cumulative sums), and
       the block's ids are dropped: 8 bytes a positive;
    3. the keys in one array, sorted in place, the distinct ones kept (``_sorted_distinct``);
    4. the pairs, u = key // n_items and i = key % n_items, the latter in the keys' array.

    The blocks themselves are 16 bytes a positive; from there the steps hold at most 17 (the keys
    twice at step 3, then the keys, the mask and the distinct keys). The reading before held
    arrays made for the line count, then ``np.unique(..., return_inverse=True)`` of the users and
    of the items, the keys in new arrays and their ``np.unique``: ≈ 66 bytes a positive when every
    rating was one, 4 times the result (``benchmarks/positives_memory.py``)."""
    user_ids, item_ids = _distinct_ids(user_blocks), _distinct_ids(item_blocks)
    n_users, n_items = len(user_ids), len(item_ids)
    key_blocks = []
    while user_blocks:
        keys = np.searchsorted(user_ids, user_blocks.pop(0)).astype(np.int64, copy=False)
        keys *= n_items
        keys += np.searchsorted(item_ids, item_blocks.pop(0))
        key_blocks.append(keys)
    del user_ids, item_ids
    keys = np.concatenate(key_blocks)
    key_blocks.clear()
    keys = _sorted_distinct(keys)
    users = keys // n_items
    np.remainder(keys, n_items, out=keys)
    return users, keys, n_users, n_items


@functools.lru_cache(maxsize=4)
def _file_positives(path: str, mtime: float, size: int):
    """The file's positives, kept a block at a time (16 bytes a positive, not 24 a rating)."""
    user_blocks, item_blocks = _positive_blocks(path)
    if not user_blocks:
        raise ValueError(f"{path}: no rating >= {POSITIVE_RATING}: no positives")
    return _remapped_pairs(user_blocks, item_blocks)


def file_positives(path: str):
    """Cached :func:`positives_from_ratings` of a ratings file (re-read when it changes)."""
    path = _checked_file(path)
    st = os.stat(path)
    return _file_positives(path, st.st_mtime, st.st_size)
