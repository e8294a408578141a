"""A ratings file is parsed a block at a time (lrgym.tasks.recsys.ratings.BLOCK_BYTES) into arrays
made for its line count: one np.loadtxt of the whole file held 32 bytes a row and then the copies, so
a file within the 2 GiB bound (2**28 rows of "1 1 4 0") needed ≈ 14 GiB. The blocks' rows, line
numbers and header against a plain line-by-line reading; memory against the result's size; a stream
(/dev/stdin, a pipe), read once, and a file whose size says less than it holds (/proc's)."""

import os
import re
import tracemalloc

import numpy as np
import pytest

from lrgym.tasks.recsys import ratings
from lrgym.tasks.recsys.ratings import file_positives, load_ratings, positives_from_ratings


def plain_reading(text: str, is_csv: bool):
    """The rows of a ratings text, line by line: the reference."""
    rows = [line.split(",") if is_csv else line.split() for line in text.splitlines()[is_csv:] if line.strip()]
    return ([int(r[0]) for r in rows], [int(r[1]) for r in rows], [float(r[2]) for r in rows])


def ratings_text(rng, n, is_csv, blank_every=7):
    sep = "," if is_csv else rng.choice(["\t", " ", "  "])
    lines = ["userId,movieId,rating,timestamp"] if is_csv else []
    for k in range(n):
        lines.append(sep.join([str(rng.integers(-5, 10**int(rng.integers(1, 12)))), str(rng.integers(0, 40)),
                               str(rng.choice([1, 2.5, 3, 4, 4.5, 5])), str(rng.integers(0, 10**9))]))
        if k % blank_every == 3:
            lines.append("")
    return "\n".join(lines) + ("\n" if rng.random() < 0.5 else "")


@pytest.mark.parametrize("block", [1, 7, 64, 4096])
@pytest.mark.parametrize("is_csv", [False, True])
def test_blocks_read_the_rows_a_plain_reading_does(tmp_path, monkeypatch, block, is_csv):
    """Blocks of 1 to 4,096 bytes (lines cut anywhere by a read, joined again), blank lines, a last
    line with or without its end, the csv header: the rows, and the positives, of a line-by-line reading."""
    monkeypatch.setattr(ratings, "BLOCK_BYTES", block, raising=False)
    rng = np.random.default_rng(block + is_csv)
    text = ("\n\n" if is_csv and block == 7 else "") + ratings_text(rng, 300, is_csv)  # blank lines before the header
    path = tmp_path / ("ratings.csv" if is_csv else "u.data")
    path.write_text(text)
    users, items, rated = load_ratings(str(path))
    assert (users.tolist(), items.tolist(), rated.tolist()) == plain_reading(text.lstrip("\n"), is_csv)
    assert users.base is None  # (cut to the ratings: the line count's arrays are not kept)
    expected = positives_from_ratings(users, items, rated)
    got = file_positives(str(path))
    assert [x.tolist() if isinstance(x, np.ndarray) else x for x in got] == \
           [x.tolist() if isinstance(x, np.ndarray) else x for x in expected]


@pytest.mark.parametrize("block", [1, 2, 7, 4096])
@pytest.mark.parametrize("end", ["\r\n", "\r"])
def test_windows_and_old_mac_line_ends_read_as_a_text_reading_does(tmp_path, monkeypatch, block, end):
    """Lines ended by \\r\\n (a "\\r\\n" cut between two reads too) or by \\r alone, as a file read as
    text (universal newlines) has them, which the reading before the blocks did: the blocks split at
    \\n only, so a \\r-only file was one line, refused as longer than 4,096 characters. The rows of
    a line-by-line reading, and a bad line named by its number."""
    monkeypatch.setattr(ratings, "BLOCK_BYTES", block, raising=False)
    for is_csv in (False, True):
        text = ratings_text(np.random.default_rng(block), 700, is_csv)
        path = tmp_path / ("ratings.csv" if is_csv else "u.data")
        path.write_bytes(text.replace("\n", end).encode())
        users, items, rated = load_ratings(str(path))
        assert (users.tolist(), items.tolist(), rated.tolist()) == plain_reading(text, is_csv)
        lines = text.split("\n")
        lines[600] = "1 2 x 4" if not is_csv else "1,2,x,4"
        path.write_bytes(end.join(lines).encode())
        with pytest.raises(ValueError, match=rf"line 601: rating 'x' is not a number"):
            load_ratings(str(path))


def test_the_positive_pairs_are_numpys_unique_rows(tmp_path):
    """The pairs are sorted by one int64 key u·n_items + i: the same as np.unique of the pair rows."""
    rng = np.random.default_rng(5)
    users, items = rng.integers(-10**12, 10**12, 5000) % 300, rng.integers(0, 10**15, 5000) % 700
    rated = rng.choice([1.0, 4.0, 5.0], 5000)
    pu, pi, n_users, n_items = positives_from_ratings(users, items, rated)
    keep = rated >= 4
    _, u = np.unique(users[keep], return_inverse=True)
    _, i = np.unique(items[keep], return_inverse=True)
    pairs = np.unique(np.stack([u, i], axis=1), axis=0)
    assert (pu.tolist(), pi.tolist()) == (pairs[:, 0].tolist(), pairs[:, 1].tolist())
    assert (n_users, n_items) == (len(np.unique(users[keep])), len(np.unique(items[keep])))


@pytest.mark.parametrize("block", [16, 1 << 21])
def test_a_bad_line_in_a_later_block_is_named_by_its_number(tmp_path, monkeypatch, block):
    monkeypatch.setattr(ratings, "BLOCK_BYTES", block, raising=False)
    lines = [f"{k} {k % 9} 4 {k}" for k in range(5000)]
    lines[4321] = "4321 5 four 9"
    path = tmp_path / "u.data"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=re.escape(f"{path}, line 4322: rating 'four' is not a number")):
        load_ratings(str(path))
    with pytest.raises(ValueError, match=re.escape(f"{path}, line 4322: rating 'four' is not a number")):
        file_positives(str(path))


def test_the_parse_holds_little_more_than_its_result(tmp_path, monkeypatch):
    """500,000 rows of "1 2 5 0": the result is 3 arrays of 8 bytes a row (11.4 MiB); the whole
    file's np.loadtxt held 32 bytes a row, then copied them out (peak ≈ 2.3 times the result); a
    block (64 KiB here) at a time, the result and a block's table. tracemalloc counts NumPy's
    arrays on any machine."""
    monkeypatch.setattr(ratings, "BLOCK_BYTES", 1 << 16, raising=False)
    n = 500_000
    path = tmp_path / "u.data"
    path.write_text("1 2 5 0\n" * n)
    tracemalloc.start()
    try:
        users, items, rated = load_ratings(str(path))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    result = users.nbytes + items.nbytes + rated.nbytes
    assert result == 24 * n and peak < 1.5 * result, (peak / 2**20, result / 2**20)


def test_a_pipe_handed_over_as_a_path_is_refused(tmp_path):
    """/dev/stdin or bash's <(...) as data_path: a descriptor, which file_problem lets through, but a
    pipe is read once, with no size, and a ratings file is read several times (format, lines, rows,
    and by every env built from it): the first read took the rows, the next found none."""
    read, write = os.pipe()
    try:
        os.write(write, b"1 2 5 9\n3 4 5 9\n")
        os.close(write)
        path = f"/dev/fd/{read}"
        with pytest.raises(ValueError, match=re.escape(f"ratings file {path} is a FIFO (named pipe); valid: a regular "
                                                       "file")):
            load_ratings(path)
        with pytest.raises(ValueError, match="is a FIFO"):
            file_positives(path)
    finally:
        os.close(read)


@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="needs Linux's /proc")
def test_a_file_holding_more_than_its_size_says_is_bounded_as_it_is_read(monkeypatch):
    """/proc's files say size 0: the size check passed them, and they were read to their end."""
    assert os.stat("/proc/self/maps").st_size == 0
    monkeypatch.setattr(ratings, "MAX_RATINGS_BYTES", 64)
    with pytest.raises(ValueError, match=re.escape("ratings file /proc/self/maps holds more than 64 bytes (its size "
                                                   "said 0)")):
        load_ratings("/proc/self/maps")


def plain_positives(text: str, is_csv: bool):
    """The positives of a ratings text, line by line: the reference. Users and items numbered in
    increasing order of their ids, the distinct (user, item) pairs in increasing order."""
    users, items, rated = plain_reading(text, is_csv)
    pairs = {(u, i) for u, i, r in zip(users, items, rated) if r >= ratings.POSITIVE_RATING}
    user_no = {u: k for k, u in enumerate(sorted({u for u, _ in pairs}))}
    item_no = {i: k for k, i in enumerate(sorted({i for _, i in pairs}))}
    numbered = sorted((user_no[u], item_no[i]) for u, i in pairs)
    return [u for u, _ in numbered], [i for _, i in numbered], len(user_no), len(item_no)


@pytest.mark.parametrize("block", [7, 512, 1 << 21])
@pytest.mark.parametrize("held", [1, 2**16])
def test_file_positives_are_a_plain_readings_distinct_pairs(tmp_path, monkeypatch, block, held):
    """Random files (few or many users and items, duplicate pairs, ids from -5 to 10**11, each line
    end, a share of positives from none to all): file_positives' pairs, counts and dtypes are those
    of a line-by-line reading; the blocks' distinct ids merged at every block (held 1) or rarely."""
    monkeypatch.setattr(ratings, "BLOCK_BYTES", block, raising=False)
    monkeypatch.setattr(ratings, "_HELD_IDS", held, raising=False)
    rng = np.random.default_rng(block + held)
    for k in range(12):
        is_csv, n = bool(k % 2), int(rng.integers(1, 1500))
        share = [0.0, 0.1, 0.5, 1.0][k % 4]
        n_ids = int(rng.choice([3, 300, 10**11]))
        lines = ["userId,movieId,rating,timestamp"] if is_csv else []
        for _ in range(n):
            rating = rng.choice([4, 4.5, 5]) if rng.random() < share else rng.choice([1, 2.5, 3.5])
            lines.append(("," if is_csv else " ").join(
                [str(rng.integers(-5, n_ids)), str(rng.integers(0, min(n_ids, 40))), str(rating), "0"]))
        text = ["\n", "\r\n", "\r"][k % 3].join(lines)
        path = tmp_path / f"{k}.{'csv' if is_csv else 'data'}"
        path.write_bytes(text.encode())
        expected = plain_positives(text, is_csv)
        if not expected[2]:
            with pytest.raises(ValueError, match=re.escape(f"{path}: no rating >= 4.0: no positives")):
                file_positives(str(path))
            continue
        pu, pi, n_users, n_items = file_positives(str(path))
        assert (pu.tolist(), pi.tolist(), n_users, n_items) == expected
        assert pu.dtype == pi.dtype == np.int64 and type(n_users) is type(n_items) is int


@pytest.mark.parametrize("share", [1.0, 0.1])
def test_file_positives_peak_little_more_than_their_pairs(tmp_path, monkeypatch, share):
    """300,000 rows, every one positive or one in ten, each pair once: the result is 2 arrays of
    8 bytes a positive. Arrays made for the line count (16 bytes a line, 10 times the result at one
    positive in ten) and np.unique(..., return_inverse=True) of the users and of the items (copies,
    an argsort and cumulative sums) peaked at ≈ 4 times the result when every rating was positive,
    ≈ 11 times at one in ten; the positives a block at a time, their keys sorted in place, at the
    blocks (the result's size) and a block's parse (64 KiB of text here)."""
    monkeypatch.setattr(ratings, "BLOCK_BYTES", 1 << 16, raising=False)
    n = 300_000
    rng = np.random.default_rng(3)
    positive = rng.random(n) < share
    keys = rng.permutation(n)  # each (user, item) pair once
    text = "".join(f"{k // 1000} {k % 1000} {5 if p else 2} 0\n" for k, p in zip(keys.tolist(), positive.tolist()))
    path = tmp_path / "u.data"
    path.write_text(text)
    tracemalloc.start()
    try:
        pu, pi, n_users, n_items = ratings._file_positives.__wrapped__(str(path), 0.0, 0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    result = pu.nbytes + pi.nbytes
    assert result == 16 * positive.sum()
    assert peak < 1.3 * result + 16 * (1 << 16), (peak / 2**20, result / 2**20)
