"""Stage report: results/<dataset>/tables.md of every dataset in params.yaml -> reports/README.md."""
import sys
from pathlib import Path

from lhmix.core.files import replaced_on_success
from lhmix.core.stage import parser, read_params, run_stage
from lhmix.reporting import report


def write() -> str:
    datasets = read_params().get("datasets")
    tables = {dataset: (Path("results") / dataset / "tables.md").read_text(encoding="utf-8") for dataset in datasets}
    out = Path("reports") / "README.md"
    ablation = Path("reports") / "ablation.md"   # make ablation's, outside the pipeline: its released-similarity rows
    with replaced_on_success(out) as temporary:
        temporary.write_text(report.render(datasets, tables, report.environment(),
                                           ablation.read_text(encoding="utf-8") if ablation.is_file() else None),
                             encoding="utf-8")
    return str(out)


def main(argv=None) -> int:
    parser(__doc__).parse_args(argv)
    return run_stage("report", write)


if __name__ == "__main__":
    sys.exit(main())
