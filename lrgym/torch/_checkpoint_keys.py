"""Dict keys and set items in a checkpoint: ``torch.load(weights_only=True)`` reads numbers,
strings, bytes, None and tuples as keys, so an enum member used as a key is stored as a tagged
tuple and looked up again, by name, in an enum class the live policy (or an imported module)
already has; no class is ever imported from the file."""

from __future__ import annotations

import enum
import sys
import types

from lrgym.brief import brief
from lrgym.torch._checkpoint_format import PLAIN, TAG, RestoreError, named


FLAG_NEEDS_LIVE_KEY = " (a combined Flag: a live key of its class is needed)"


def stored_key(key, where: str):
    """A dict key or set item as a key ``torch.load(weights_only=True)`` reads: a number, str,
    bytes or None as it is, a tuple item by item, an enum member as the tuple
    ``("__lrgym__", "enum", module, qualname, "name", name)`` (a combined ``Flag``: ``"value"``,
    its value), found again by :func:`restored_key` (a tuple of the policy's own may not start
    with ``"__lrgym__"``)."""
    if type(key) in PLAIN:
        return key
    if type(key) is tuple:
        if key and type(key[0]) is str and key[0] == TAG:
            raise TypeError(f"cannot checkpoint {where}: its key {key!r} starts with {TAG!r}, which is reserved "
                            "for lrgym's own markers")
        return tuple(stored_key(k, where) for k in key)
    if isinstance(key, enum.Enum):
        cls = type(key)
        if key.name is not None and cls.__members__.get(key.name) is key:
            return (TAG, "enum", cls.__module__, cls.__qualname__, "name", key.name)
        return (TAG, "enum", cls.__module__, cls.__qualname__, "value", stored_key(key.value, where))
    raise TypeError(f"cannot checkpoint {where}: a key of type {type(key).__name__} ({key!r}); valid keys: numbers, "
                    "str, bytes, None, enum members or tuples of them")


def enum_classes(keys) -> dict:
    """The enum classes of the live keys (inside tuples too), by (module, qualname)."""
    found = {}
    for key in keys:
        if isinstance(key, enum.Enum):
            found.setdefault((type(key).__module__, type(key).__qualname__), type(key))
        elif type(key) is tuple:
            found.update({k: v for k, v in enum_classes(key).items() if k not in found})
    return found


def _imported_enum(module: str, qualname: str):
    """The enum class ``module.qualname`` if its module is imported already, else None. Read from
    the module's and classes' ``__dict__``: nothing is imported (not even by a module's lazy
    ``__getattr__``) and no code runs."""
    found = sys.modules.get(module)
    for part in qualname.split("."):
        namespace = getattr(found, "__dict__", None) if isinstance(found, (types.ModuleType, type)) else None
        found = namespace.get(part) if isinstance(namespace, (dict, types.MappingProxyType)) else None
    return found if isinstance(found, enum.EnumMeta) else None


def restored_key(key, live_classes: dict, where: str):
    """The key :func:`stored_key` stored. An enum member is looked up in the class of a live key
    of the same name, else in that class of an imported module (by name only: a combined ``Flag``
    stored by value needs a live member of its class); never imported from the file."""
    if type(key) is not tuple:
        return key
    if not (key and type(key[0]) is str and key[0] == TAG):
        return tuple(restored_key(k, live_classes, where) for k in key)
    if len(key) != 6 or key[1] != "enum" or key[4] not in ("name", "value") or not all(
            type(k) is str for k in key[2:4]):
        raise RestoreError(f"cannot restore {where}: the key {brief(key)} is no stored enum member; valid: "
                           f"({TAG!r}, 'enum', module, qualname, 'name' or 'value', name or value)")
    _, _, module, qualname, how, what = key
    cls = live_classes.get((module, qualname))
    if cls is None and how == "name":
        cls = _imported_enum(module, qualname)
    if cls is None:
        raise RestoreError(f"cannot restore {where}: a key is a member of the enum {named(f'{module}.{qualname}')}, "
                           "which is neither the class of a key this policy has there nor an enum of a module "
                           f"imported here{FLAG_NEEDS_LIVE_KEY if how == 'value' else ''}; valid: build the policy as "
                           "the saved one was, its code imported")
    if how == "value":
        return cls(what)
    if type(what) is not str or what not in cls.__members__:
        raise RestoreError(f"cannot restore {where}: the enum {named(f'{module}.{qualname}')} has no member "
                           f"{brief(what)}; valid: {', '.join(cls.__members__)}")
    return cls.__members__[what]
