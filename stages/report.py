"""Stage report: results/<dataset>/tables.md of every dataset in params.yaml -> reports/README.md."""
import sys
from pathlib import Path

from lhmix.core.files import read_json, replaced_on_success
from lhmix.core.stage import parser, read_params, run_stage
from lhmix.reporting import report


def write() -> str:
    datasets = read_params().get("datasets")
    tables = {dataset: (Path("results") / dataset / "tables.md").read_text(encoding="utf-8") for dataset in datasets}
    out = Path("reports") / "README.md"
    with replaced_on_success(out) as temporary:
        temporary.write_text(report.render(datasets, tables, report.environment(), released_similarity(datasets)),
                             encoding="utf-8")
    return str(out)


def released_similarity(datasets: list[str]) -> str | None:
    """reports/ablation.md (make ablation's, outside the pipeline) for its released-similarity rows, where the
    ablation measured one of the report's datasets (reports/ablation.json says which)."""
    measured = read_json(Path("reports") / "ablation.json")["meta"]["dataset"]
    return (Path("reports") / "ablation.md").read_text(encoding="utf-8") if measured in datasets else None


def main(argv=None) -> int:
    parser(__doc__).parse_args(argv)
    return run_stage("report", write)


if __name__ == "__main__":
    sys.exit(main())
