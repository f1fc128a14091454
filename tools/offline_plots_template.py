"""Write the HTML template `dvc plots show` uses, with vega, vega-lite and vega-embed inlined.

DVC's default page loads these scripts from a CDN, so it stays blank offline. The scripts come from the npm
registry at install time (`make plots-template`); they are not committed. Only after this script succeeds does
the Makefile point DVC at the page, in the git-ignored `.dvc/config.local`: the committed `.dvc/config` names
no template, so `dvc plots show` works on a fresh clone (with DVC's default page).
"""
import argparse
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from lhmix.core.files import replaced_on_success

PACKAGES = {"vega@5.33.1": "package/build/vega.min.js",
            "vega-lite@5.23.0": "package/build/vega-lite.min.js",
            "vega-embed@6.29.0": "package/build/vega-embed.min.js"}
PAGE = """<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>DVC plots (offline)</title>
{inline_scripts}
<style>table {{ border-spacing: 15px; }}</style>
</head>
<body>
{{plot_divs}}
</body>
</html>
"""


def inline_scripts(tarballs: dict[str, Path]) -> str:
    """<script> elements holding each package's minified build, read from its npm tarball."""
    blocks = []
    for package, member in PACKAGES.items():
        with tarfile.open(tarballs[package]) as archive:
            source = archive.extractfile(member).read().decode("utf-8")
        # A literal </script> inside the code would end the element early.
        escaped = source.replace("</script>", "<\\/script>")
        blocks.append(f"<script>/* {package} */\n{escaped}\n</script>")
    return "\n".join(blocks)


def main(out: str) -> int:
    with tempfile.TemporaryDirectory() as folder:
        try:
            packed = subprocess.run(["npm", "pack", *PACKAGES, "--silent"], cwd=folder, check=True,
                                    capture_output=True, text=True).stdout.split()
        except FileNotFoundError:
            print(f"{out}: not written: npm is not installed", file=sys.stderr)
            return 1
        except subprocess.CalledProcessError as error:
            last = (error.stderr.strip().splitlines() or ["no message"])[-1]
            print(f"{out}: not written: npm pack failed ({last})", file=sys.stderr)
            return 1
        tarballs = dict(zip(PACKAGES, (Path(folder) / name for name in packed)))
        page = PAGE.format(inline_scripts=inline_scripts(tarballs))
    # Whole or not at all: a half-written page would be taken for a template.
    with replaced_on_success(out) as partial:
        partial.write_text(page, encoding="utf-8")
    print(f"{out}: {len(page) // 1024} KiB, no network needed to open")
    return 0


if __name__ == "__main__":
    arguments = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    arguments.add_argument("out", help="the page to write, e.g. .dvc/plots/offline.html")
    sys.exit(main(arguments.parse_args().out))
