"""The mixed family behind ``LRControl-v1``: every family in one instance distribution.

Instance seed k belongs to member ``members[k % len(members)]`` and is that family's instance
k, so the train / val / test seed ranges stay disjoint and each member gets an equal share of
every set. All members report the same statistics, so the observation features mean the same
thing whichever family an episode draws.
"""

from __future__ import annotations

from lrgym.tasks import MIXED_V1
from lrgym.tasks.base import Task, TaskFamily, TaskSpec

#: ``LRControl-v1``'s members, from the family registry (the entries marked ``mixed_v1``)
DEFAULT_MEMBERS = MIXED_V1


class MixtureFamily(TaskFamily):
    name = "mixed"
    default_horizon = 50
    default_inner_steps = 10

    def __init__(self, members: tuple[str, ...] = DEFAULT_MEMBERS, member_options: dict | None = None):
        from lrgym.tasks import FAMILIES, make_family

        members = tuple(members)
        if not members:
            raise ValueError("members must name at least one family; valid choices: " + ", ".join(FAMILIES))
        for m in members:
            if m not in FAMILIES or m == self.name:
                raise ValueError(f"unknown member family {m!r}; valid choices: {', '.join(FAMILIES)}")
        member_options = dict(member_options or {})
        unknown = sorted(set(member_options) - set(members))
        if unknown:
            raise ValueError(f"member_options for {unknown} which are not members; valid: {', '.join(members)}")
        self.members = members
        self.families = {m: make_family(m, **member_options.get(m, {})) for m in members}
        self.overrides = {"members": members, "member_options": member_options}

    def member_of(self, instance_seed: int) -> str:
        return self.members[int(instance_seed) % len(self.members)]

    def sample(self, instance_seed: int) -> TaskSpec:
        return self.families[self.member_of(instance_seed)].sample(instance_seed)

    def _sample(self, rng, instance_seed):
        """The member family's own draw (``sample`` above goes through the member directly)."""
        return self.families[self.member_of(instance_seed)]._sample(rng, instance_seed)

    def build(self, spec: TaskSpec) -> Task:
        return self.families[spec.family].build(spec)
