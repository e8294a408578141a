"""MovieLens-format ratings files (``u.data`` or ``ratings.csv``) read into positive pairs.

Ratings ≥ :data:`POSITIVE_RATING` are positives; users and items are remapped to 0..n−1. A
malformed file raises ``ValueError`` naming the file and the line; nothing is downloaded. A file
of more than :data:`MAX_RATINGS_BYTES` is refused before it is read (and one whose size said
less, as /proc's files, once that much is read), a line of more than :data:`MAX_LINE_CHARS` is
refused without reading more than a block past it, and a pipe or a terminal (``/dev/stdin``) is
refused: the file is read more than once. It is parsed a block at a time (:data:`BLOCK_BYTES`).
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


def _rows(path: str, positives_only: bool = False):
    """(user ids, item ids, ratings) of the checked ratings file ``path``, in arrays made for its
    line count and filled a block at a time (views of them: cut to the rows); ``positives_only``
    keeps only the rows rated :data:`POSITIVE_RATING` or more, and no ratings (None)."""
    rows = _line_count(path)
    users, items = np.empty(rows, np.int64), np.empty(rows, np.int64)
    ratings = None if positives_only else np.empty(rows, np.float64)
    n = rated = 0
    for u, i, r in _parsed_blocks(path):
        rated += len(r)
        if positives_only:
            keep = r >= POSITIVE_RATING
            u, i = u[keep], i[keep]
        if n + len(u) > rows:
            raise ValueError(f"ratings file {path} changed while it was read (more lines than it had); "
                             "valid: a file no one writes meanwhile")
        users[n:n + len(u)], items[n:n + len(u)] = u, i
        if ratings is not None:
            ratings[n:n + len(u)] = r
        n += len(u)
    if not rated:
        raise _no_ratings(path)
    return users[:n], items[:n], None if ratings is None else ratings[:n]


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
    return _remapped_pairs(users[keep], items[keep])


def _remapped_pairs(users: np.ndarray, items: np.ndarray):
    """The distinct (user, item) pairs of the positives, users and items remapped to 0..n−1 in
    increasing order of their ids, sorted by (user, item); n_users, n_items. The pair u·n_items + i
    is one int64 key (n_users · n_items ≤ 2**56), sorted once (``np.unique(..., axis=0)`` of the
    pairs sorted row views: slower and larger)."""
    user_ids, u = np.unique(users, return_inverse=True)
    item_ids, i = np.unique(items, return_inverse=True)
    n_items = len(item_ids)
    keys = np.unique(u.astype(np.int64) * n_items + i)
    return keys // n_items, keys % n_items, len(user_ids), n_items


@functools.lru_cache(maxsize=4)
def _file_positives(path: str, mtime: float, size: int):
    """The file's positives, kept a block at a time (16 bytes a positive, not 24 a rating)."""
    users, items, _ = _rows(path, positives_only=True)
    if not len(users):
        raise ValueError(f"{path}: no rating >= {POSITIVE_RATING}: no positives")
    return _remapped_pairs(users, items)


def file_positives(path: str):
    """Cached :func:`positives_from_ratings` of a ratings file (re-read when it changes)."""
    path = _checked_file(path)
    st = os.stat(path)
    return _file_positives(path, st.st_mtime, st.st_size)
