"""Policy and scheduler state as plain data that ``torch.load`` reads with ``weights_only=True``.

Since torch 2.6, ``torch.load`` only unpickles *data* by default: numbers, strings, bytes,
``None``, lists, tuples, dicts, sets and tensors. lrgym's policies and its training monitor keep
NumPy arrays and NumPy scalars, some keep small helper objects (the Q-learner's discretiser), a
path (the SB3 agents) or a random generator. :func:`to_checkpoint` turns such a value into data
of the allowed kinds, :func:`from_checkpoint` turns it back, bit for bit:

=================================  ===============================================================
value                              stored as
=================================  ===============================================================
None, bool, int, float, complex,   itself
str, bytes, ``torch.Tensor``,
``torch.device``, ``torch.dtype``,
``torch.Size``
list, tuple, dict, OrderedDict,    the same container of stored items (dict keys and set items:
set                                numbers, strings, bytes, None, enum members or tuples of them;
                                   a member as ``("__lrgym__", "enum", module, qualname, "name",
                                   "A")``, found in the class of a live key, else of a module
                                   imported already, by name: never imported from the file)
``collections.deque``              ``{"__lrgym__": "deque", "items": [...], "maxlen": n}`` (a
                                   frame stack's ``deque(maxlen=n)``)
``collections.Counter``            ``{"__lrgym__": "counter", "items": {...}}``
``collections.defaultdict``        ``{"__lrgym__": "defaultdict", "factory": "builtins.list",
                                   "items": {...}}``: its ``default_factory`` by name, one of
                                   :data:`DEFAULT_FACTORIES` (``list``, ``int``, ``float``, ...)
                                   or None; a factory of the policy's own code (a function
                                   without a closure, a lambda over no variable, a class) by
                                   its qualified name, found again as the factory of the live
                                   defaultdict at the same place; a closure is refused
``enum.Enum`` member               ``{"__lrgym__": "enum", "class": "pkg.mod.Mode", "name": "A"}``
                                   (a combined ``Flag``: its ``"value"``), found again in the
                                   live member's class
``range``, ``fractions.Fraction``  ``{"__lrgym__": "range", "start": 0, "stop": 9, "step": 3}``,
                                   ``{"__lrgym__": "fraction", "numerator": 1, "denominator": 3}``
``np.dtype``                       ``{"__lrgym__": "dtype", "str": "<f4"}`` (not a structured dtype)
``np.ndarray`` (numeric or bool)   ``{"__lrgym__": "ndarray", "data": tensor}`` (same dtype)
NumPy scalar (``np.float64`` …)    ``{"__lrgym__": "numpy", "dtype": "<f8", "value": 0.5}``
``pathlib`` path                   ``{"__lrgym__": "path", "value": "/the/path"}``
``np.random.Generator``,           the generator's state (``bit_generator.state``,
``np.random.RandomState``,         ``get_state()``, ``getstate()``)
``random.Random``
``torch.Generator``                ``{"__lrgym__": "torch_generator", "device": "cpu",
                                   "state": generator.get_state()}`` (a uint8 tensor)
``torch.nn.Module``                ``{"__lrgym__": "module", "state": module.state_dict(),
                                   "numbered": True, "training": True,
                                   "other_modes": {"encoder": False},
                                   "attributes": ...}``: its parameters and buffers, its training
                                   mode and that of each submodule in the other mode, and the
                                   attributes of its own and of its submodules whose class is
                                   not torch's (a step counter, an array: what
                                   ``state_dict()`` leaves out; code — a function without a
                                   closure, a builtin, a class — is construction, not stored)
``torch.optim`` optimizer,         ``{"__lrgym__": "torch_state_dict", "class": "torch.optim.adam.Adam",
LR scheduler                       "state": optimizer.state_dict()}``, loaded with the live one's
                                   ``load_state_dict()`` (a policy training a net of its own)
a value met before (shared)        ``{"__lrgym__": "ref", "index": n}``: the container, array,
                                   tensor, module or object met n-th in the walk
                                   (:class:`~lrgym.torch._checkpoint_memo.Memo`), so what shared
                                   one object shares it again after a load, as ``copy.deepcopy``
                                   keeps it: also a value met again inside itself (a helper's
                                   ``owner``, a list that holds itself; a tuple that holds itself
                                   is refused: it is built from its items). A module under two
                                   names is stored once; loaded, the second name holds the first
                                   name's live module, as a helper object would (torch's own
                                   ``state_dict()`` stores a submodule registered twice under both
                                   names, its structure being the module's construction).
                                   Two values saved apart and loaded into one live object
                                   (the live policy shares what the saved one did not) are
                                   refused, naming both places, unless both hold the same
                                   state (a generator or optimizer, stored at each place)
any other object                   ``{"__lrgym__": "object", "class": "pkg.mod.Name",
                                   "numbered": True, "state": ...}``: the stored ``__getstate__()`` (its
                                   ``__dict__`` unless the class says otherwise); a
                                   subclass of a builtin container or scalar (a namedtuple, a
                                   dict subclass) is refused unless it has a ``__setstate__``
                                   of its own: its items are not its attributes
=================================  ===============================================================

Objects, modules, optimizers, generators, enum members and tensors are restored **in place**, the way
``nn.Module.load_state_dict`` restores parameters: :func:`from_checkpoint` gets the live value
at the same place (``live``) and loads the stored state into it, so the policy you pass to a
new scheduler must be built like the one that was saved (same class, same helper objects, an
enum member where the saved one had one; its other attributes are overwritten). All or
nothing: :func:`restore_plan` builds and checks everything before it loads anything, and its
load undoes what it loaded if one of its actions raises (a class's own ``__setstate__``, a tensor
copy torch refuses). No class is
ever imported or constructed from a checkpoint, which is what keeps it safe to load: an enum
member is looked up in the live member's class, a ``defaultdict``'s factory in a fixed table
or, the policy's own, in the live defaultdict at the same place.

Anything else — functions, lambdas, open files, locks, classes with their own pickling
(``__reduce__``) — raises ``TypeError`` naming where it sits (``policy.schedule``,
``policy.memory['x'][2]``): such a policy gives itself ``state_dict()`` and
``load_state_dict(state)`` methods (the PyTorch convention; their values may be anything from
the table), and the scheduler saves what those return instead.

The work is split by concern, each module importing only those above it:

=====================================  ===========================================================
:mod:`~lrgym.torch._checkpoint_format`  the vocabulary: the tag, the kinds stored as they are, the
                                       records' fields (:data:`DEFAULT_FACTORIES`, :func:`class_name`)
:mod:`~lrgym.torch._object_state`       an object's state as pickle reads and writes it
                                       (:func:`get_object_state`, :func:`set_object_state`)
:mod:`~lrgym.torch._checkpoint_memo`    sharing: values met twice, stored and restored as one
:mod:`~lrgym.torch._checkpoint_keys`    dict keys and set items (enum members as keys)
:mod:`~lrgym.torch._checkpoint_factories`  a defaultdict's factory, by name
:mod:`~lrgym.torch._checkpoint_save`    :func:`to_checkpoint`: the walk that stores
:mod:`~lrgym.torch._checkpoint_checks`  a record checked against the live value before any load
:mod:`~lrgym.torch._checkpoint_actions` what a load changes in the live objects, and its undo
:mod:`~lrgym.torch._checkpoint_restore` :func:`restore_plan` / :func:`from_checkpoint`: the walk
                                       that restores, all or nothing
=====================================  ===========================================================

This module is their public face: import from here.
"""

from __future__ import annotations

from lrgym.torch._checkpoint_format import DEFAULT_FACTORIES, TAG, class_name
from lrgym.torch._checkpoint_restore import from_checkpoint, restore_plan
from lrgym.torch._checkpoint_save import to_checkpoint
from lrgym.torch._object_state import get_object_state, set_object_state

__all__ = ["DEFAULT_FACTORIES", "TAG", "class_name", "from_checkpoint", "get_object_state", "restore_plan",
           "set_object_state", "to_checkpoint"]
