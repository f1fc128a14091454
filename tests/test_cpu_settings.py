"""A CPU session keeps freed blocks in the heap (lhmix.training.session.keep_freed_memory): a step's
vocabulary-sized tensors reuse memory instead of page-faulting fresh pages from the operating system; and
OpenMP's threads sleep instead of spinning when they wait (lhmix.training.threads)."""
import ast
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

# In a fresh process: where glibc puts a 20 MiB tensor (mallinfo2: hblkhd = bytes in mmap'd blocks, which a
# free returns to the operating system) and what stays in the heap for reuse after it is freed (fordblks).
WHERE = """
import ctypes, json, sys, torch
from lhmix.training.session import keep_freed_memory

class Info(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                     "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype = Info
if sys.argv[1] == "keep":
    assert keep_freed_memory()
tensor = torch.ones(5 << 20)
mapped = libc.mallinfo2().hblkhd
del tensor
print(json.dumps({"mapped": mapped, "free_in_heap": libc.mallinfo2().fordblks}))
"""
MIB = 1 << 20
REPO = Path(__file__).resolve().parents[1]
STANDARD_LIBRARY = sys.stdlib_module_names


def placement(mode: str) -> dict:
    done = subprocess.run([sys.executable, "-c", WHERE, mode], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt and mallinfo2 are glibc's")
def test_a_freed_vocabulary_sized_tensor_stays_in_the_heap():
    default, kept = placement("default"), placement("keep")
    assert default["mapped"] >= 20 * MIB  # glibc's default: mmap'd, handed back to the OS when freed
    assert default["free_in_heap"] < 20 * MIB
    assert kept["mapped"] < 20 * MIB  # kept: from the heap, and still there for the next step when freed
    assert kept["free_in_heap"] >= 20 * MIB




def wait_policy(environment: dict) -> str:
    """OMP_WAIT_POLICY after importing lhmix.training.threads, in a fresh process (torch not loaded by it)."""
    code = ("import os, sys, lhmix.training.threads\n"
            "assert 'torch' not in sys.modules\nprint(os.environ['OMP_WAIT_POLICY'])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=environment)
    return done.stdout.strip().splitlines()[-1]


def test_the_wait_policy_is_passive_unless_the_user_set_one():
    unset = {name: value for name, value in os.environ.items() if name != "OMP_WAIT_POLICY"}
    assert wait_policy(unset) == "PASSIVE"
    assert wait_policy({**unset, "OMP_WAIT_POLICY": "ACTIVE"}) == "ACTIVE"


@pytest.mark.parametrize("script", ["stages/train.py", "stages/warmup.py", "tools/bench.py"])
def test_training_scripts_set_the_wait_policy_before_anything_imports_torch(script):
    tree = ast.parse((REPO / script).read_text(encoding="utf-8"))
    imported = [alias.name if isinstance(node, ast.Import) else node.module
                for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))
                for alias in (node.names if isinstance(node, ast.Import) else node.names[:1])]
    first_third_party = next(i for i, name in enumerate(imported) if name.split(".")[0] not in STANDARD_LIBRARY)
    assert imported[first_third_party] == "lhmix.training.threads"
