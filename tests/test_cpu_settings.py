"""A CPU session keeps freed blocks in the heap (lhmix.training.session.keep_freed_memory): a step's
vocabulary-sized tensors reuse memory instead of page-faulting fresh pages from the operating system."""
import json
import platform
import subprocess
import sys

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
