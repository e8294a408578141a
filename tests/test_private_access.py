"""No module reaches into another object's private attributes: e.g. the vector env reads its
settings from one EnvSettings and its sub-envs through their public API, and nothing outside the
env writes ``env._tasks`` (``env.task_cache`` is the public way). Every module of the three floors
is checked; the few reaches allowed are listed with their reasons."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: the modules checked: every module of the three floors (lrgym, lrgym.baselines, lrgym.leaderboard)
CHECKED = sorted(p for floor in ("lrgym", "baselines", "leaderboard") for p in (ROOT / floor).rglob("*.py"))
#: the reaches allowed, each for its reason (file, expression)
KNOWN = {
    # a classmethod constructor setting up the instance it made (same class)
    ("lrgym/env.py", "env._apply_settings"),
    # Numba's cache locator: the documented way to add one is to extend its private list
    ("lrgym/kernel_cache.py", "impl._locator_classes"),
    ("lrgym/kernel_cache.py", "locator._lrgym_root"),
    # a builder thread that must end before the interpreter's own atexit handlers
    ("lrgym/tasks/ahead.py", "threading._register_atexit"),
    # the mixture delegates the TaskFamily hook to its member family (same base class)
    ("lrgym/tasks/mixture.py", "self.families[self.member_of(instance_seed)]._sample"),
    # torch's own modules name their re-initialiser _reset_parameters (nn.MultiheadAttention,
    # nn.Transformer: no public one); TorchTrainingEnv's reset re-draws a module's parameters with it
    ("lrgym/torch/env.py", "module._reset_parameters"),
    # a tensor's version counter (every in-place change advances it; autograd's own check of
    # saved tensors): no public accessor; the scheduler tells a zero_grad() after step() by it
    ("lrgym/torch/_step_hooks.py", "p.grad._version"),
    # the same counter: a copied scheduler's watch tells a .grad left untouched since the copy
    ("lrgym/torch/_copies.py", "grad._version"),
    # a module's per-module loader and its load hooks (no public accessor): a checkpoint's load hands a
    # module's stored state uncopied to load_state_dict only when these are torch's own / none
    ("lrgym/torch/_checkpoint_actions.py", "type(sub)._load_from_state_dict"),
    ("lrgym/torch/_checkpoint_actions.py", "sub._load_state_dict_pre_hooks"),
    ("lrgym/torch/_checkpoint_actions.py", "sub._load_state_dict_post_hooks"),
    # a Ray actor handle's id (no public accessor on the handle); the pool looks up in Ray's actor
    # table which node an actor whose runtime environment failed was placed on
    ("leaderboard/ray_pool.py", "actor._actor_id"),
}


def foreign_private_attributes(source: str, name: str = "<source>") -> list[str]:
    """``x._name`` where ``x`` is not ``self`` / ``cls`` (dunder names and the standard library's
    ``os._exit`` aside), as ``name:line: x._name``."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in ("self", "cls", "os", "sys"):  # os._exit: public
                continue
            out.append(f"{name}:{node.lineno}: {ast.unparse(node)}")
    return out


@pytest.mark.parametrize("path", CHECKED, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_private_attribute_of_another_object(path):
    rel = str(path.relative_to(ROOT))
    found = [f for f in foreign_private_attributes(path.read_text(), rel) if (rel, f.split(": ", 1)[1]) not in KNOWN]
    assert found == []


def test_every_known_reach_is_still_there():
    found = {(f.split(":", 1)[0], f.split(": ", 1)[1]) for p in CHECKED
             for f in foreign_private_attributes(p.read_text(), str(p.relative_to(ROOT)))}
    assert KNOWN <= found, f"no longer needed, delete from KNOWN: {sorted(KNOWN - found)}"


def test_the_check_finds_what_it_looks_for():
    source = "def f(env, vec):\n    env._tasks = {}\n    self._ok = vec.__class__\n    return vec._sub_envs[0]._recorder\n"
    found = sorted(f.split(": ", 1)[1] for f in foreign_private_attributes(source))
    assert found == ["env._tasks", "vec._sub_envs", "vec._sub_envs[0]._recorder"]
