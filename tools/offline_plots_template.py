"""Write the HTML template `dvc plots show` uses, with vega, vega-lite and vega-embed inlined.

DVC's default page loads these scripts from a CDN, so it stays blank offline. The scripts come from the npm
registry at install time (`make plots-template`); they are not committed. `.dvc/config` points at the result.
"""
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

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
        packed = subprocess.run(["npm", "pack", *PACKAGES, "--silent"], cwd=folder, check=True,
                                capture_output=True, text=True).stdout.split()
        tarballs = dict(zip(PACKAGES, (Path(folder) / name for name in packed)))
        page = PAGE.format(inline_scripts=inline_scripts(tarballs))
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(page, encoding="utf-8")
    print(f"{out}: {len(page) // 1024} KiB, no network needed to open")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
