"""A private suite: instances a submitter cannot know, derived from a secret the grader holds.

v1 and val are public: their instances, seeds and best fixed LRs ship with the package, so a
policy could recognise an instance (by its initial loss, say) and look its answer up. A hosted
leaderboard therefore ranks on a private suite::

    lrgym leaderboard suites --private grader.key        # creates the key (mode 0600) once
    lrgym leaderboard run-baselines --private grader.key # baselines and references, kept by the grader
    lrgym leaderboard submit their_policy.py:P --private grader.key --owner ACCOUNT

The key (32 random bytes, hex) never leaves the grader. Instance seeds are
HMAC-SHA256(key, "family/i") mapped into the ``private`` instance set (2⁴⁰ … 2⁶² − 1: disjoint
from train, val and test), env seeds HMAC-SHA256(key, "seed/j") in [0, 2³¹); the suite's name
carries a key id (a hash of the key, which reveals nothing of it).

Why the pool is that large: hiding *which* seeds were drawn is not enough if the pool can be
enumerated. A policy sees seed-independent facts of its instance (train_loss − excess_loss is
the instance's optimum loss, different for every instance); with a small public pool it could
carry a table of all of them, computed offline (the first pool, 1,000,000 … 1,199,999, took
≈ 35 CPU-minutes for linreg), recognise its instance and tune its LR by simulating it inside
the sandbox, where lrgym is importable. No one tabulates 2⁶² instances. Revision 2 is the
suite drawn from this pool; results and references of revision 1 (the old pool) are kept
apart by the version (``private-<id>/r1`` vs ``/r2``). Its references are
computed by the grader and kept beside the key (``KEYFILE.references/``, mode 0700, files 0600;
a folder there others can read is refused: :func:`references_dir`), never in
the shared cache or the package, and the stored entries describe the suite without its
instances. Rotate the key (a new suite) when results of many submissions could have leaked
information about the instances.

A private suite over families of your own: ``--families linreg,logreg`` beside ``--private`` (every
grading and reading command takes it) draws the suite over exactly those registered families
(:func:`lrgym.tasks.register_family`, named to ``lrgym leaderboard`` by ``$LRGYM_FAMILIES``), in
that order. A family's instances are drawn as in the default suite (HMAC(key, "family/i") depends on
the family's name only), but the suite is another: its name carries the list beside the key id
(``private-8c1d7061+linreg+logreg/r2``; a list longer than :data:`MAX_FAMILIES_TAG` characters: a
hash of it, ``private-8c1d7061=3f0a…``), so its stored entries and cached references are never
mixed with the default suite's or another list's (:func:`private_name`). Without ``--families`` (or
with LRControl-v1's four families in their order, :data:`~lrgym.tasks.MIXED_V1`) it is the
suite above, ``private-<id>``, unchanged.

A private suite of another size: ``--instances N`` (per family, 1 … :data:`MAX_INSTANCES`;
default :data:`N_INSTANCES`) and ``--seed-count M`` (1 … :data:`MAX_SEEDS`; default
:data:`N_SEEDS`) beside ``--private``. The size ends the name, ``private-<id>@16x5`` or
``private-<id>+linreg+logreg@8x2`` (:data:`SIZE_JOIN`), so each size is a board of its own, its
entries and references never mixed with another size's; 8 x 5 is named as before. The draws are
sequential (instance i of a family is HMAC(key, "family/i"), repeats skipped; seed j likewise), so
a larger suite's instances and seeds begin with a smaller one's: the 8 x 5 suite's are the first of
the 16 x 5 suite's.
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import os
import re
import secrets
import stat
from pathlib import Path

from lrgym.files import link_target
from lrgym.leaderboard.job_agreement import FILES_CHANGED
from lrgym.leaderboard.ownership import PRIVATE, kind_of, own_problem
# a private suite's default and largest size (their one place, which the options' help imports too)
from lrgym.leaderboard.private_size import MAX_INSTANCES, MAX_SEEDS, N_INSTANCES, N_SEEDS
from lrgym.leaderboard.suite import PRIVATE_PREFIX, FamilySuite, Suite
from lrgym.tasks import MIXED_V1
from lrgym.tasks.base import instance_set

__all__ = ["KEY_FORM", "MAX_INSTANCES", "MAX_SEEDS", "N_INSTANCES", "N_SEEDS", "REVISION", "board_reason",
           "check_families", "check_instances", "check_seed_count", "create_key", "is_private", "is_private_version",
           "load_key", "parse_families", "private_kinds", "private_name", "private_options", "private_reason",
           "private_suite", "private_words", "references_dir", "suite_words"]

REVISION = 2
"""The revision of every private suite: 2 since the instance pool became un-enumerable (2⁴⁰ …
2⁶² − 1; revision 1 drew from 1,000,000 … 1,199,999). Bump it whenever the drawing changes, so
stored entries and cached references of the old instances are never mixed with the new."""


#: the form of a key file, said by every refusal of one
KEY_FORM = ("a key file holding 64 hex digits (32 random bytes) on one line, mode 0600, as "
            "`lrgym leaderboard suites --private NEW_PATH` creates it")
#: largest file :func:`load_key` reads (a key is 65 bytes; no file this large is one)
MAX_KEY_FILE = 64 * 1024
MIN_KEY_BYTES = 16


def _judged_link(path: Path, dir_fd: int, name: str, hop: Path) -> str:
    """Where the symbolic link ``name`` of the folder ``dir_fd`` (shown as ``hop``), met on the way
    to the key ``path``, leads; or a ValueError naming both when someone else could repoint it.
    Every link, at any level of the path (a folder's too: ``/srv/shared/keys/grader.key`` with
    ``keys`` a link) and along any chain of links, must belong to the grader's user or root, in a
    folder no other user may write to (a sticky folder counts, its links being the grader's own).
    The link and its folder are judged as the walk holds them (``lstat`` relative to the folder's
    descriptor, ``fstat`` of it: :func:`~lrgym.leaderboard.path_walk.walk_to_last`), so the link
    judged is the link followed."""
    me = os.geteuid()
    link = os.lstat(name, dir_fd=dir_fd)
    folder = os.fstat(dir_fd)
    shared = folder.st_mode & 0o022 and not folder.st_mode & stat.S_ISVTX
    if link.st_uid not in (me, 0) or shared or folder.st_uid not in (me, 0):
        owner = (f"uid {link.st_uid}" if link.st_uid not in (me, 0)
                 else f"a folder of mode {stat.S_IMODE(folder.st_mode):o} (uid {folder.st_uid})")
        raise ValueError(f"private suite key {path} leads through the symbolic link {hop}, which someone else "
                         f"could point elsewhere ({owner}); valid: links of your own or root's, in folders only "
                         f"their owner writes, or the key file itself: {KEY_FORM}")
    return os.readlink(name, dir_fd=dir_fd)


def _walk_error(path: Path, linked: bool, exc: OSError) -> ValueError:
    """The refusal of a key ``path`` whose walk (or last component) did not open with ``exc``:
    a link (``linked``: the path's last component is one) leading nowhere (a key on a volume not
    mounted must not be mistaken for a missing key, which ``suites --private`` would create anew)
    or into a loop, else the reason."""
    if linked and exc.errno == errno.ELOOP:
        return ValueError(f"private suite key {path} is a symbolic link loop (each link leads to another, "
                          f"never to a file); valid: a link to the key file, or the file itself: {KEY_FORM}")
    if linked and exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return ValueError(f"private suite key {path} is a symbolic link to {link_target(path)}, which does not "
                          f"exist (a key on a volume not mounted?); valid: a link to the key file, or the file "
                          f"itself: {KEY_FORM}")
    return ValueError(f"private suite key {path} cannot be read: {exc.strerror or exc}; valid: {KEY_FORM}")


def create_key(path: str | os.PathLike) -> bool:
    """Create a new key file (mode 0600) unless something is there already; True if it was created.

    Anything at ``path`` (a key, another file, a link even if dangling, a FIFO) is left as it is
    and False returned: :func:`load_key` then says whether it is a key. A path that cannot be
    created (its folder is a file, no permission) is a ``ValueError`` naming it and the reason."""
    path = Path(path)
    if os.path.lexists(path):
        return False
    try:
        if not path.parent.is_dir():
            path.parent.mkdir(mode=0o700, parents=True)
        # O_EXCL | O_NOFOLLOW: never through a link made meanwhile
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:  # the key made meanwhile (load_key judges it), or its "folder" is a file
        if os.path.lexists(path):
            return False
        raise ValueError(f"cannot create the private suite key {path}: {path.parent} is not a folder; valid: a "
                         "new file path in a folder you can write") from None
    except OSError as exc:
        raise ValueError(f"cannot create the private suite key {path}: {exc.strerror or exc}; valid: a new "
                         "file path in a folder you can write") from None
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32) + "\n")
    return True


def load_key(path: str | os.PathLike) -> bytes:
    """The secret of a key file (:data:`KEY_FORM`).

    Every refusal is a ``ValueError`` naming the file, what is wrong and the valid form, and none
    shows any of the file's bytes (an error message goes to logs and terminals; a key that is
    almost right must not leak through it). In this order: a missing path (with the command that
    creates it); a symbolic link others could repoint, at any level of the path (:func:`_judged_link`;
    a link to a key is followed), a dangling one or a loop (:func:`_walk_error`); a folder, FIFO, socket or
    device, named as such and never opened (reading a FIFO would wait forever); contents that are
    no key (binary data, not hex, an odd number of digits, too short, too large: ``--private
    /etc/passwd`` is "not a key", not "chmod 600 /etc/passwd"); and last a key of another user's
    (root, the grader a hosted board runs as, reads a 0600 file of anyone's: that user knows the
    hidden suite, and could have put the file there) or readable by other users. Whitespace between the hex digits is allowed, as ``bytes.fromhex`` allows it."""
    from lrgym.leaderboard.path_walk import walk_to_last

    path = Path(path)
    valid = f"valid: {KEY_FORM}"
    try:
        linked = stat.S_ISLNK(os.lstat(path).st_mode)
    except FileNotFoundError:
        raise ValueError(f"private suite key {path} not found; create it with "
                         f"`lrgym leaderboard suites --private {path}`") from None
    except OSError as exc:
        raise ValueError(f"private suite key {path} cannot be read: {exc.strerror or exc}; {valid}") from None
    # opened one name at a time, each relative to the folder before and following only the links
    # _judged_link accepts: a folder of the path swapped for a link after a check of the links and
    # before an open of the whole path was followed wherever that link led
    try:
        dir_fd, name, shown = walk_to_last(path, on_error=lambda exc, *_: exc,
                                           on_link=lambda fd, name, hop: _judged_link(path, fd, name, hop))
    except OSError as exc:
        raise _walk_error(path, linked, exc) from None
    # a link: judged and read as the file it leads to (every folder of `shown` was opened: no link in it)
    given, path = path, Path(os.path.normpath(shown)) if linked else path
    try:
        try:
            st = os.lstat(name, dir_fd=dir_fd)
        except OSError as exc:
            raise _walk_error(given, linked, exc) from None
        kind = None if stat.S_ISREG(st.st_mode) else kind_of(st.st_mode)
        if kind == "a folder":
            raise ValueError(f"private suite key {path} is a folder, not a key file; valid: the path of a key "
                             f"file, e.g. {path / 'grader.key'} (`lrgym leaderboard suites --private PATH` creates it)")
        if kind is not None:  # a FIFO, socket or device: never opened (a FIFO's read would wait forever)
            raise ValueError(f"private suite key {path} is {kind}, not a key file; {valid}")
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
            with os.fdopen(fd, "rb") as f:
                # the file read is judged, not the one the lstat saw: one swapped in meanwhile (a folder
                # of the path renamed and replaced by another user) was read with the first one's owner
                st = os.fstat(f.fileno())
                if not stat.S_ISREG(st.st_mode):  # swapped since the lstat
                    raise ValueError(f"private suite key {path} is not a regular file; {valid}")
                data = f.read(MAX_KEY_FILE + 1)
        except OSError as exc:
            raise ValueError(f"private suite key {path} cannot be read: {exc.strerror or exc}; {valid}") from None
    finally:
        os.close(dir_fd)
    key = _parse_key(path, data)
    if st.st_uid not in (os.geteuid(), 0):  # its owner reads it, and can replace it, whatever its mode
        raise ValueError(f"private suite key {path} belongs to another user (uid {st.st_uid}), who can read it and "
                         f"put a key of their own in its place; valid: a key file of your own or root's "
                         f"(`lrgym leaderboard suites --private NEW_PATH` makes one), and make a new key if that "
                         "user may have read this one")
    if st.st_mode & 0o077:
        raise ValueError(f"private suite key {path} is readable by other users (mode "
                         f"{stat.S_IMODE(st.st_mode):04o}); chmod 600 {path}, and make a new key if others "
                         "may have read it")
    return key


def _parse_key(path: Path, data: bytes) -> bytes:
    """The key in a key file's ``data``, or a ValueError that says what is wrong in counts and
    kinds only, never with the file's bytes."""
    import string

    not_key = f"private suite key {path} is not a key"
    valid = f"valid: {KEY_FORM}"
    if len(data) > MAX_KEY_FILE:
        raise ValueError(f"{not_key}: it holds more than {MAX_KEY_FILE} bytes; {valid}")
    if not data.strip():
        raise ValueError(f"{not_key}: it is empty; {valid}")
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise ValueError(f"{not_key}: it holds binary data ({len(data)} bytes), not hex digits; {valid}. To keep "
                         "raw random bytes as the key, write them as hex: python3 -c \"import sys; "
                         "print(sys.stdin.buffer.read().hex())\" < RAW > KEY") from None
    digits = "".join(text.split())
    other = sum(c not in string.hexdigits for c in digits)
    if other:
        raise ValueError(f"{not_key}: {other} of its {len(digits)} non-blank characters are not hex digits; {valid}")
    if len(digits) % 2:
        raise ValueError(f"{not_key}: it holds an odd number of hex digits ({len(digits)}); {valid}")
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:  # blanks inside a byte's two digits
        raise ValueError(f"{not_key}: its hex digits are not in pairs (blanks inside a byte); {valid}") from None
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"{not_key}: it is too short ({len(digits)} hex digits, {len(key)} bytes; at least "
                         f"{2 * MIN_KEY_BYTES}); {valid}")
    return key


def _draw(key: bytes, label: str) -> int:
    return int.from_bytes(hmac.new(key, label.encode(), hashlib.sha256).digest()[:8], "big")


#: what joins the key id and the families of a private suite over a list of its own, and the
#: families (no family name holds it: :data:`lrgym.tasks.FAMILY_NAME`): ``private-8c1d7061+linreg+logreg``
FAMILIES_JOIN = "+"
#: what joins the key id and the hash of a family list longer than :data:`MAX_FAMILIES_TAG`
#: characters (no family name holds it either, so no list's name is another's)
FAMILIES_HASH_JOIN = "="
#: the longest family list a private suite's name spells out (it names output files too)
MAX_FAMILIES_TAG = 64
#: the placeholder of ``--families`` in a hint for a suite whose name holds its list's hash only
FAMILIES_PLACEHOLDER = "FAMILIES"
#: what joins a private suite's name and its size when that is not the default 8 x 5
#: (``private-8c1d7061@16x5``, ``private-8c1d7061+linreg+logreg@8x2``): in no family name, no key id
#: and no hash, so it ends any name; the size is always last
SIZE_JOIN = "@"


def _count(value, what: str, default: int, maximum: int) -> int:
    """``value`` (an int, or the text of a CLI option) as a whole number 1 … ``maximum``, or a
    ValueError naming what it counts, the value and the valid range."""
    number = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        number = int(value.strip())
    if number is None or not 1 <= number <= maximum:
        raise ValueError(f"{what} {value!r} invalid; valid: a whole number from 1 to {maximum} (default {default}; "
                         f"the bound keeps a board's cost sane: every baseline and submission runs families x "
                         f"instances x seeds episodes)")
    return number


def check_instances(value) -> int:
    """The instances per family of a private suite (``--instances``, ``n_instances=``): a whole
    number from 1 to :data:`MAX_INSTANCES`, or a ValueError naming the value and the range."""
    return _count(value, "instances per family", N_INSTANCES, MAX_INSTANCES)


def check_seed_count(value) -> int:
    """The env seeds of a private suite (``--seed-count``, ``n_seeds=``): a whole number from 1 to
    :data:`MAX_SEEDS`, or a ValueError naming the value and the range."""
    return _count(value, "env seed count", N_SEEDS, MAX_SEEDS)


def _registered() -> str:
    from lrgym.tasks import FAMILIES

    return ", ".join(f for f in FAMILIES if f != "mixed")


def check_families(families) -> tuple[str, ...]:
    """``families`` (a private suite's ``--families``) as a tuple, checked: a non-empty list of
    distinct registered families other than the mixture, each importable here. A ``ValueError``
    names the bad value and the registered families (one of your own is named to a command that
    never imports your module by ``$LRGYM_FAMILIES``)."""
    from lrgym.tasks import FAMILIES, FamilyImportError, family_class

    how = "one of your own: register_family, named to lrgym's processes by $LRGYM_FAMILIES=name=module:Class"
    if isinstance(families, str):  # (its letters were taken for the families: "family 'l' is not registered")
        raise ValueError(f"families {families!r} is a string; valid: a list of registered families such as "
                         f"({', '.join(repr(f) for f in families.split(','))},) (parse_families reads 'a,b')")
    families = tuple(families)
    if not families:
        raise ValueError(f"no families given; valid: a comma-separated list of registered families: {_registered()} "
                         f"({how})")
    for family in families:
        if not isinstance(family, str) or family not in FAMILIES or family == "mixed":
            raise ValueError(f"family {family!r} is not registered (or is the mixture); valid: {_registered()} ({how})")
    repeated = sorted({f for f in families if families.count(f) > 1})
    if repeated:
        raise ValueError(f"families {','.join(families)} name {', '.join(repeated)} more than once; valid: each "
                         "family once")
    for family in families:
        try:
            family_class(family)
        except FamilyImportError as exc:  # registered, but not importable here: the error says why
            raise ValueError(str(exc)) from None
    return families


def parse_families(text: str) -> tuple[str, ...]:
    """The families of ``--families linreg,logreg`` (:func:`check_families`); an empty item
    (``linreg,,logreg``, ``""``) is refused naming the value."""
    items = [part.strip() for part in str(text).split(",")]
    if any(not item for item in items) and items != [""]:
        raise ValueError(f"families {text!r} have an empty item; valid: registered families separated by commas, "
                         f"such as linreg,logreg (registered: {_registered()})")
    return check_families([] if items == [""] else items)


def private_name(key_id: str, families: tuple[str, ...] = MIXED_V1, n_instances: int = N_INSTANCES,
                 n_seeds: int = N_SEEDS) -> str:
    """The name of the private suite of the key ``key_id`` over ``families``, ``n_instances`` per
    family x ``n_seeds`` env seeds: ``private-<id>`` for LRControl-v1's four at 8 x 5 (the suite
    every key had before ``--families`` and ``--instances``: its stored results stay valid), else
    ``private-<id>+linreg+logreg``, or for a list longer than :data:`MAX_FAMILIES_TAG` characters
    ``private-<id>=<16 hex digits of its SHA-256>``, and after it ``@16x5`` (:data:`SIZE_JOIN`)
    for another size. Distinct lists and sizes have distinct names (``+``, ``=`` and ``@`` are in
    no family name), so the version that keys stored entries and cached references keeps each
    suite's apart."""
    base = PRIVATE_PREFIX + key_id
    families = tuple(families)
    size = "" if (n_instances, n_seeds) == (N_INSTANCES, N_SEEDS) else f"{SIZE_JOIN}{n_instances}x{n_seeds}"
    if families == MIXED_V1:
        return base + size
    tag = FAMILIES_JOIN.join(families)
    if len(tag) <= MAX_FAMILIES_TAG:
        return base + FAMILIES_JOIN + tag + size
    return base + FAMILIES_HASH_JOIN + hashlib.sha256(",".join(families).encode()).hexdigest()[:16] + size


def private_words(families=None, n_instances: int = N_INSTANCES, n_seeds: int = N_SEEDS) -> str:
    """What follows ``--private KEYFILE`` in a command that names the private suite over
    ``families`` (None: LRControl-v1's four) of that size: nothing for the default suite, else
    `` --families a,b``, `` --instances N``, `` --seed-count M`` for what differs from it."""
    families = tuple(families or MIXED_V1)
    return ("" if families == MIXED_V1 else " --families " + ",".join(families)) + \
        ("" if n_instances == N_INSTANCES else f" --instances {n_instances}") + \
        ("" if n_seeds == N_SEEDS else f" --seed-count {n_seeds}")


def suite_words(suite: Suite) -> str:
    """:func:`private_words` of the private ``suite`` (its families, instances per family and seeds)."""
    return private_words(suite.family_names, len(suite.families[0].instances) if suite.families else N_INSTANCES,
                         len(suite.seeds))


def private_options(version: str | None) -> str:
    """What follows ``--private KEYFILE`` in a command that names the private suite of the stored
    ``version`` (:func:`private_name`): nothing for the default suite, `` --families a,b`` for a
    list the name spells out, `` --families FAMILIES`` (:data:`FAMILIES_PLACEHOLDER`) for one it
    holds only the hash of, and `` --instances N`` / `` --seed-count M`` for a size it names."""
    name = str(version or "").split("/", 1)[0]
    if not name.startswith(PRIVATE_PREFIX):
        return ""
    rest, _, size = name[len(PRIVATE_PREFIX):].partition(SIZE_JOIN)
    n_instances, n_seeds = N_INSTANCES, N_SEEDS
    if re.fullmatch(r"\d+x\d+", size):
        n_instances, n_seeds = (int(n) for n in size.split("x"))
    words = private_words(None, n_instances, n_seeds)
    if FAMILIES_HASH_JOIN in rest:
        return f" --families {FAMILIES_PLACEHOLDER}" + words
    return private_words(rest.split(FAMILIES_JOIN)[1:], n_instances, n_seeds)


def private_suite(keyfile: str | os.PathLike, n_instances: int = N_INSTANCES, n_seeds: int = N_SEEDS,
                  families=None) -> Suite:
    """The hidden suite of ``keyfile``: ``n_instances`` per family × ``n_seeds`` env seeds, v1's
    episode settings (family-default horizons). The suite remembers its key's path
    (:attr:`~lrgym.leaderboard.suite.Suite.key_file`): :func:`lrgym.leaderboard.runner.run_suite`
    refuses a key that a sandbox would show and covers it in its own.

    ``families`` (None: LRControl-v1's four, :data:`~lrgym.tasks.MIXED_V1`): the registered
    families it draws, in that order (:func:`check_families`); the suite's name carries the list
    (:func:`private_name`). Each family's instances and the seeds are drawn as for the default list.
    ``n_instances`` (1 … :data:`MAX_INSTANCES`) and ``n_seeds`` (1 … :data:`MAX_SEEDS`) are in the
    name too unless they are the default 8 x 5; the draws are sequential, so a larger suite's
    instances and seeds begin with a smaller one's."""
    n_instances, n_seeds = check_instances(n_instances), check_seed_count(n_seeds)
    families_drawn = MIXED_V1 if families is None else check_families(families)
    key = load_key(keyfile)
    pool = instance_set("private")
    families = []
    for family in families_drawn:  # the suite's families
        chosen: list[int] = []
        i = 0
        while len(chosen) < n_instances:
            k = pool.start + _draw(key, f"{family}/{i}") % len(pool)
            if k not in chosen:
                chosen.append(k)
            i += 1
        families.append(FamilySuite(family, tuple(chosen)))
    seeds: list[int] = []
    j = 0
    while len(seeds) < n_seeds:
        s = _draw(key, f"seed/{j}") % 2**31
        if s not in seeds:
            seeds.append(s)
        j += 1
    key_id = hashlib.sha256(b"lrgym private suite id\0" + key).hexdigest()[:8]
    over = "" if families_drawn == MIXED_V1 else f" of {', '.join(families_drawn)}"
    return Suite(
        name=private_name(key_id, families_drawn, n_instances, n_seeds), revision=REVISION,
        description=f"private: {n_instances} hidden instances per family{over} x {n_seeds} hidden seeds (key {key_id})",
        instance_set="private", families=tuple(families), seeds=tuple(seeds),
        key_file=os.path.abspath(keyfile),  # where run_suite checks and covers it (Suite.key_file)
    )


def is_private(suite: Suite) -> bool:
    return suite.instance_set == "private"


def is_private_version(version: str | None) -> bool:
    """Whether a stored suite version (``private-8c1d7061/r2``) is a private suite's: its name
    carries :data:`~lrgym.leaderboard.suite.PRIVATE_PREFIX`, which no public suite's does (entries, references and exports know
    their suite only by its version)."""
    return str(version or "").startswith(PRIVATE_PREFIX)


#: (pattern of a failure reason, what a private suite records instead), first match wins: the
#: grader's own words decide the kind; the policy's words, numbers and output are dropped
_PRIVATE_REASONS = (
    # the grader's check that every job ran the same files (lrgym.leaderboard.job_agreement): the
    # hashes it names are of the submitter's own files, but the kind is all a private suite records
    (r"^" + re.escape(FILES_CHANGED), FILES_CHANGED),
    (r"^the policy's process reported: (importing|constructing|loading|reading the policy's env|the policy \S+ has no |the policy target )"
     r"|^policy (file|target) |^unknown policy kind ", "the policy could not be loaded"),
    (r"^the policy's process reported: MemoryError: out of memory \(the sandbox's memory limit"
     r"|^the policy's process reported: policy raised in (reset|act)\(\)[^\n]*: MemoryError: ",
     "the policy went over its memory limit"),
    (r"^the policy's process reported: policy raised in reset\(\)", "the policy raised an exception in reset()"),
    (r"^the policy's process reported: policy raised in act\(\)", "the policy raised an exception in act()"),
    (r"^the policy's process reported:", "the policy's process reported a failure"),
    (r"^invalid action ", "the policy returned an invalid action"),
    (r"^the policy's settings are invalid|^invalid policy settings|^the policy asked for different env options",
     "the policy's settings are invalid"),
    # the grader's check of the runs (lrgym.leaderboard.runner_entries._validate), whose words name the
    # task, the seed and both losses: a baseline's, on a board (a submission cannot reach it)
    (r"^initial loss .* differs from the references|^run length \d+ on .* does not match the suite's horizon",
     "the runs did not match the suite's references (the grader's check of each run's length and initial loss)"),
    (r"^the policy went over its memory limit|^the policy process went over its memory limit", "the policy went over its memory limit"),
    (r"CPU time limit", "the policy went over its CPU time limit"),
    (r"^the policy process did not answer within|^timeout|timed out|time limit", "the policy went over its time limit"),
    (r"scratch folder", "the policy went over its scratch-folder limit"),
    (r"malformed|protocol|larger than|stopped reading", "the policy's process broke the grader's protocol"),
    (r"died|killed|exit code|signal", "the policy's process died"),
)
#: what follows the kind in every failure reason of a private suite
PRIVATE_REASON_NOTE = (" (a private suite records only the kind of failure: the policy's own words, numbers and "
                       "output could carry what it saw of the hidden instances; test a policy on a public suite)")
#: what follows the kind of a baseline's failure on a private suite's board (the store keeps its words)
BASELINE_REASON_NOTE = (" (a private suite's board shows only the kind of a failure: the grader's words name hidden "
                        "instances, seeds and losses; the whole reason is in the store and its owner-only export)")


def private_kinds() -> frozenset[str]:
    """Every reason :func:`private_reason` gives: the only text a private board shows of a
    failure as it was stored (anything else, a reason merely ending like one, is reduced)."""
    return frozenset(kind + PRIVATE_REASON_NOTE for kind in {k for _, k in _PRIVATE_REASONS} | {"the policy failed"})


def board_reason(kind: str, reason: str) -> str:
    """How a private suite's board (``show``, ``report``: the Markdown to publish, the HTML page)
    shows the failure ``reason`` of an entry of ``kind``: its kind only, a submission's
    (:func:`private_reason`; one stored before the grader recorded only the kind kept its words)
    and a baseline's too, whose reason is the grader's own but names the hidden instance, seed
    and losses of the run that failed (``initial loss 0.57… on linreg/4548039995220109115 seed
    1955951904 differs from the references' …``: an audit, 2026-12-06, found it published under
    "Failed" in the Markdown that ``report`` calls fit to publish)."""
    if kind == "submission":
        return reason if reason in private_kinds() else private_reason(reason)
    return private_reason(reason).removesuffix(PRIVATE_REASON_NOTE) + BASELINE_REASON_NOTE


def private_reason(reason: str) -> str:
    """The failure ``reason`` of a submission on a private suite as it is recorded, printed and
    published: only its kind, from the grader's own wording (:data:`_PRIVATE_REASONS`), never the
    text a policy chose. A reason carried up to 4,000 characters of it (its exception, the
    actions it returned, its output), so a policy could fail on purpose to report the hidden
    instances' losses, one submission after another, and map a private suite (an operator's audit,
    2026-12-05: 8 mlp instances' best LRs to within 1.5× in six submissions)."""
    from lrgym.leaderboard.failures import QUOTE

    graders = "\n".join(line for line in reason.split("\n") if not line.startswith(QUOTE))  # not the policy's lines
    for pattern, kind in _PRIVATE_REASONS:
        if re.search(pattern, graders):
            return kind + PRIVATE_REASON_NOTE
    return "the policy failed" + PRIVATE_REASON_NOTE


def references_dir(keyfile: str | os.PathLike) -> Path:
    """Where the grader keeps the references of a private suite, ``KEYFILE.references/``: made
    mode 0700 if missing; the files in it are written 0600
    (:func:`lrgym.leaderboard.references.save_references`).

    An existing one must be a folder of the grader's own (not a link, not another user's) that
    no one else can read or enter; otherwise ``ValueError`` naming it, its mode and the fix. It is
    refused rather than tightened, as :func:`load_key` refuses a shared key: the references are
    the answers to the hidden instances (their best LRs and losses), so a folder others could
    read may already have given them away, and only the operator can judge whether to make a new
    key. (``mkdir(mode=0o700, exist_ok=True)`` kept an existing 0755 folder as it was, and the
    references were written 0644 into it.)"""
    path = Path(str(keyfile) + ".references")
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise ValueError(f"cannot make the private suite's references folder {path}: {exc.strerror or exc}; "
                         "valid: a key file in a folder you can write (a key on a read-only mount, a mounted "
                         "secret: give a symbolic link to it in a folder of your own, mode 0700; the references "
                         "are kept beside the link)") from None
    problem = own_problem(path, folder=True, closed=PRIVATE)
    if problem is None:
        return path
    st = problem.st
    if problem.what == "kind":
        raise ValueError(f"the private suite's references folder {path} is {kind_of(st.st_mode)}, not a folder of "
                         "your own; valid: a folder (mode 0700) or nothing there (it is made)")
    if problem.what == "owner":
        raise ValueError(f"the private suite's references folder {path} belongs to another user (uid "
                         f"{st.st_uid}); valid: a folder of your own, mode 0700 (or nothing there: it is made)")
    raise ValueError(f"the private suite's references folder {path} is open to other users (mode "
                     f"{stat.S_IMODE(st.st_mode):04o}): the hidden instances' references in it may have been "
                     f"read; chmod 700 {path} (and make a new key if others may have read them)")


def public_description(suite: Suite) -> dict:
    """What an entry stores about a private suite: its shape, not its instances or seeds."""
    return {"name": suite.name, "revision": suite.revision, "version": suite.version,
            "instance_set": suite.instance_set, "n_seeds": len(suite.seeds),
            "families": [{"family": fs.family, "n_instances": len(fs.instances)} for fs in suite.families]}
