"""MovieLens-format ratings files (``u.data`` or ``ratings.csv``) read into positive pairs.

Ratings ≥ :data:`POSITIVE_RATING` are positives; users and items are remapped to 0..n−1. A
malformed file raises ``ValueError`` naming the file and the line; nothing is downloaded. A file
of more than :data:`MAX_RATINGS_BYTES` is refused before it is read, and a line of more than
:data:`MAX_LINE_CHARS` is refused without reading the rest of it.
"""

from __future__ import annotations

import functools
import math
import os
import warnings

import numpy as np

from lrgym.files import file_problem

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


def _checked_file(path) -> str:
    """``path`` as a string if it is a regular file (links followed); else a ``ValueError`` saying
    what it is (a folder, a FIFO, a link loop: never opened, a FIFO would block) or that it is missing."""
    path = os.fspath(path)
    problem = file_problem(path)
    if problem is not None:
        raise ValueError(f"ratings file {path} {problem}; valid: a MovieLens u.data or ratings.csv file")
    size = os.stat(path).st_size
    if size > MAX_RATINGS_BYTES:
        raise ValueError(f"ratings file {path} is {size:,} bytes ({size / 2**30:,.3g} GiB); valid: at most "
                         f"{MAX_RATINGS_BYTES:,} bytes (2 GiB; MovieLens's largest, ml-32m's ratings.csv, is 877 MB)")
    return path


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


def load_ratings(path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(user ids, item ids, ratings) of a MovieLens ``u.data`` or ``ratings.csv`` file.

    The format is chosen by the first non-blank line: a comma-separated file must start with
    the header ``userId,movieId,rating,timestamp``; otherwise the file is ``u.data``-style,
    whitespace separated, without header. Blank lines are skipped. Raises ``ValueError`` naming
    the file and the line for a wrong column count, a non-integer id, a non-numeric or
    non-finite rating, a non-numeric timestamp, and for a file without ratings.

    Large files are parsed by ``np.loadtxt``; when it rejects a file, a line-by-line pass finds
    the first bad line for the error message.
    """
    path = _checked_file(path)
    first_no, first = 0, ""
    with open(path, encoding="utf-8", errors="replace") as f:
        for first_no, first in _lines(path, f):
            if first.strip():
                break
    if not first.strip():
        raise ValueError(f"{path}, line 1: empty file, expected MovieLens ratings (u.data or ratings.csv)")
    is_csv = "," in first
    header = 0
    if is_csv:
        names = tuple(x.strip().lower() for x in first.strip().split(","))
        if names != CSV_HEADER:
            raise ValueError(
                f"{path}, line {first_no}: a comma-separated ratings file must start with the header "
                f"userId,movieId,rating,timestamp, got {first.strip()!r}"
            )
        header = first_no
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "input contained no data": reported below
            table = np.loadtxt(
                path, dtype=_RATING_DTYPE, delimiter="," if is_csv else None, skiprows=header,
                comments=None, ndmin=1, encoding="utf-8",
            )
        if len(table) and np.isfinite(table["rating"]).all() and np.isfinite(table["timestamp"]).all():
            return table["user"].copy(), table["item"].copy(), table["rating"].copy()
    except (ValueError, OverflowError):  # OverflowError: an id beyond int64; the pass below names its line
        pass
    users, items, ratings = [], [], []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line_no, line in _lines(path, f):
            text = line.strip()
            if line_no <= header or not text:
                continue
            u, i, r = _parse_fields(path, line_no, text.split(",") if is_csv else text.split())
            users.append(u)
            items.append(i)
            ratings.append(r)
    if not users:
        raise ValueError(f"{path}, line {header + 1}: no ratings in the file")
    return np.array(users, dtype=np.int64), np.array(items, dtype=np.int64), np.array(ratings)


def positives_from_ratings(users, items, ratings, threshold: float = POSITIVE_RATING):
    """Remapped positive pairs (u, i), n_users, n_items from ratings ≥ ``threshold``."""
    keep = ratings >= threshold
    if not keep.any():
        raise ValueError(f"no rating >= {threshold}: no positives")
    user_ids, u = np.unique(users[keep], return_inverse=True)
    item_ids, i = np.unique(items[keep], return_inverse=True)
    pairs = np.unique(np.stack([u, i], axis=1), axis=0)
    return pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64), len(user_ids), len(item_ids)


@functools.lru_cache(maxsize=4)
def _file_positives(path: str, mtime: float, size: int):
    users, items, ratings = load_ratings(path)
    try:
        return positives_from_ratings(users, items, ratings)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None


def file_positives(path: str):
    """Cached :func:`positives_from_ratings` of a ratings file (re-read when it changes)."""
    path = _checked_file(path)
    st = os.stat(path)
    return _file_positives(path, st.st_mtime, st.st_size)
