"""The mixed family behind ``LRControl-v1``: every family in one instance distribution.

Instance seed k belongs to member ``members[k % len(members)]`` and is that family's instance
k, so the train / val / test seed ranges stay disjoint and each member gets an equal share of
every set. All members report the same statistics, so the observation features mean the same
thing whichever family an episode draws.
"""

from __future__ import annotations

from collections.abc import Sequence

from lrgym.brief import brief
from lrgym.tasks import MIXED_V1
from lrgym.tasks.base import Task, TaskFamily, TaskSpec

#: ``LRControl-v1``'s members, from the family registry (the entries marked ``mixed_v1``)
DEFAULT_MEMBERS = MIXED_V1


class MixtureFamily(TaskFamily):
    """Instance seed k is instance k of ``members[k % len(members)]``.

    Options (``family_options`` of ``family="mixed"``, e.g. ``LRControl-v1``'s):

    * ``members``: the member families' names, in order (default ``LRControl-v1``'s
      :data:`DEFAULT_MEMBERS`: linreg, quadratic, mlp, recsys);
    * ``member_options``: each member's own spec overrides, by member name:
      ``{"member_options": {"linreg": {"dim": 32}, "mlp": {"dataset": "digits"}}}``.

    Its default ``horizon`` and ``inner_steps`` (when the env is given none) are its members'
    when they share one (every ``LRControl-v1`` member: 50 and 10; a mixture of one family of
    your own: that family's). Members whose defaults differ leave the mixture without one: an
    env's horizon and inner steps are fixed for its lifetime (``info["horizon"]``, the progress
    feature t/T, the vector env's batch), not chosen per episode, so the env then asks for
    ``horizon=`` / ``inner_steps=`` by name, with each member's default, rather than running
    every member at a length none of them asked for (until 2026-12-06 the mixture's own 50 and
    10, whatever its members said).

    A mixture has no spec fields of its own, so a member's option given at the top level
    (``family_options={"dim": 32}``) raises ``ValueError`` naming the valid options and the
    members that take it, with the ``member_options`` form to write instead.
    """

    name = "mixed"
    #: the mixture's own options (everything else belongs to a member, in ``member_options``)
    OPTIONS = ("members", "member_options")

    def __init__(self, members: tuple[str, ...] = DEFAULT_MEMBERS, member_options: dict | None = None, **unknown):
        from lrgym.tasks import FAMILIES, make_family

        if isinstance(members, str):
            raise ValueError(f"members={members!r} invalid; valid: a sequence of family names, e.g. ({members!r},)")
        # a sequence or an array: a number was a bare "'int' object is not iterable", and a set
        # gave its members in the order of its str hashes, which differ between processes (so did
        # the family of instance k)
        if not (isinstance(members, Sequence) or hasattr(members, "__array__")):
            raise ValueError(f"members={brief(members)} invalid; valid: a sequence of family names (in order: instance "
                             "k belongs to members[k % len(members)]), e.g. ('linreg', 'mlp')")
        members = tuple(members)
        # a mixture is no member of one: the valid members are every registered family but this one
        valid = ", ".join(f for f in FAMILIES if f != self.name)
        if not members:
            raise ValueError("members must name at least one family; valid choices: " + valid)
        for m in members:
            if not isinstance(m, str):  # a list was a bare "unhashable type", an array NumPy's "ambiguous"
                raise ValueError(f"member family {brief(m)} is not a name (a {type(m).__name__}); valid choices: {valid}")
            if m == self.name:
                raise ValueError(f"member family {m!r} invalid: a mixture cannot be a member of one; "
                                 f"valid choices: {valid}")
            if m not in FAMILIES:
                raise ValueError(f"unknown member family {m!r}; valid choices: {valid}")
        if unknown:
            raise ValueError(_unknown_options_message(unknown, members))
        if member_options is not None and not isinstance(member_options, dict):
            raise ValueError(f"member_options={member_options!r} invalid; valid: a dict member name → dict of its options")
        member_options = dict(member_options or {})
        unknown_members = sorted(set(member_options) - set(members))
        if unknown_members:
            raise ValueError(f"member_options for {unknown_members} which are not members; valid: {', '.join(members)}")
        for m, options in member_options.items():
            if not isinstance(options, dict):
                raise ValueError(
                    f"member_options[{m!r}]={options!r} invalid; valid: a dict of {m}'s spec overrides, e.g. {{}}"
                )
        self.members = members
        self.families = {m: make_family(m, **member_options.get(m, {})) for m in members}
        self.overrides = {"members": members, "member_options": member_options}

    @property
    def default_horizon(self) -> int:
        return self._common_default("horizon")

    @property
    def default_inner_steps(self) -> int:
        return self._common_default("inner_steps")

    def _common_default(self, setting: str) -> int:
        """The members' shared ``default_<setting>``; ``ValueError`` naming each member's when they differ."""
        values = {m: getattr(family, f"default_{setting}") for m, family in self.families.items()}
        if len(set(values.values())) == 1:
            return next(iter(values.values()))
        each = ", ".join(f"{m} {v}" for m, v in values.items())
        raise ValueError(f"{setting} not given, and the mixture of {', '.join(self.members)} has no default "
                         f"{setting}: its members' defaults differ ({each}), and an env's {setting} is one for all "
                         f"its episodes; valid: {setting}=N given to the env (e.g. one of "
                         f"{', '.join(str(v) for v in sorted(set(values.values())))}), or members with one default")

    def member_of(self, instance_seed: int) -> str:
        return self.members[int(instance_seed) % len(self.members)]

    def sample(self, instance_seed: int) -> TaskSpec:
        return self.families[self.member_of(instance_seed)].sample(instance_seed)

    def _sample(self, rng, instance_seed):
        """The member family's own draw (``sample`` above goes through the member directly)."""
        return self.families[self.member_of(instance_seed)]._sample(rng, instance_seed)

    def build(self, spec: TaskSpec) -> Task:
        return self.families[spec.family].build(spec)


def _unknown_options_message(unknown: dict, members: tuple[str, ...]) -> str:
    """The error for top-level options the mixture does not have: its valid options, and for an
    option of some members, which ones take it and how to pass it (``member_options``)."""
    import dataclasses

    from lrgym.tasks import family_class

    takers = {}
    for m in members:
        spec_class = family_class(m).spec_class
        fields = {f.name for f in dataclasses.fields(spec_class)} - {"family", "instance"}
        for key in sorted(unknown):
            if key in fields:
                takers.setdefault(key, []).append(m)
    message = (f"unknown mixed family option(s) {sorted(unknown)}; valid choices: {', '.join(MixtureFamily.OPTIONS)} "
               "(a member's own options go in member_options, by member)")
    if takers:
        example = {}
        for key, ms in takers.items():
            for m in ms:
                example.setdefault(m, {})[key] = unknown[key]
        options_of = "; ".join(f"{key!r} is an option of {', '.join(ms)}" for key, ms in takers.items())
        message += f". {options_of}: family_options={{'member_options': {example!r}}}"
    return message
