"""A stage or tool script loaded as a module, as `python <script>` runs it (its own folder first on sys.path)."""
import importlib.util
import sys
from pathlib import Path

REPO = Path(__file__).parents[1]


def load_script(relative_path: str):
    path = REPO / relative_path
    spec = importlib.util.spec_from_file_location(f"{path.parent.name}_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module
