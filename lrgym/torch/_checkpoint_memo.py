"""Sharing in a checkpoint: the numbering that lets two attributes which held one object hold one
object again after a load (pickle's memo, for :mod:`lrgym.torch.checkpoint`'s walks)."""

from __future__ import annotations

from lrgym.brief import brief
from lrgym.torch._checkpoint_format import TAG, RestoreError


class Memo:
    """The containers, arrays, tensors and objects met so far in one :func:`to_checkpoint` /
    :func:`from_checkpoint` walk, numbered in the order met (the walks visit the same values in
    the same order): a value met again is stored as ``{"__lrgym__": "ref", "index": n}`` and comes
    back as the object restored at ``n``, so two attributes sharing one dict, list or helper still
    share it after a load (as pickle's memo keeps them). A value is numbered, and restored, before
    what it holds, so a value met again inside itself (a helper's back-reference to its owner) is
    a reference too. The values are kept alive while the walk runs: no temporary's ``id`` is
    taken by another."""

    def __init__(self):
        self.seen: dict[int, int] = {}  # id -> index (saving)
        self.kept: list = []  # the values numbered, alive (saving)
        self.restored: dict[int, object] = {}  # index -> the value restored there (loading)
        self.count = 0
        self.copies = True  # a tensor without a live one to load into comes back as a copy (loading)
        self.actions: list = []  # what loads the restored values into the live objects (loading: restore_plan)
        self.loaded: dict[int, tuple] = {}  # id(live) -> (live, where, stored): a record loaded into it (loading)
        self.copied: list[tuple] = []  # (live, saved, where): a live tensor a saved one is copied into (loading)

    def fresh(self, copies: bool = True) -> Memo:
        """A walk of its own (a module's, an optimizer's or a generator's state: numbered apart),
        adding to the same actions. ``copies=False``: its tensors are the checkpoint's own, not
        fresh copies (a state that a load only copies from: :func:`~lrgym.torch._checkpoint_actions.loads_by_copy`)."""
        memo = Memo()
        memo.copies = copies
        memo.actions, memo.loaded, memo.copied = self.actions, self.loaded, self.copied
        return memo

    def ref(self, value) -> dict | None:
        """The reference to ``value`` if the walk met it before; else None, and ``value`` is numbered."""
        index = self.seen.get(id(value))
        if index is not None:
            return {TAG: "ref", "index": index}
        self.seen[id(value)] = self.count
        self.kept.append(value)
        self.count += 1
        return None

    def known(self, value) -> dict | None:
        """The reference to ``value`` if the walk numbered it already (an ancestor of the value
        being stored: restored, and numbered, before its items), else None."""
        index = self.seen.get(id(value))
        return None if index is None else {TAG: "ref", "index": index}

    def reserve(self) -> int:
        """The number of the value being restored (the one it had when saved)."""
        self.count += 1
        return self.count - 1

    def restore(self, index: int, value):
        self.restored[index] = value
        return value

    def resolve(self, stored: dict, where: str):
        index = stored.get("index")
        if type(index) is not int or index not in self.restored:
            raise RestoreError(f"cannot restore {where}: a reference to value {brief(index)}, which the checkpoint "
                               f"did not hold before it; valid: an index of a value restored before "
                               f"({len(self.restored)})")
        return self.restored[index]
