"""Stage check: the params that shape the pipeline (datasets, seeds, families, alpha, beta, sweeps),
each checked and held against the others before any other stage runs, and every seed within what numpy and
scikit-learn accept (lhmix.pipeline.plan.check_params; lhmix.pipeline.guard runs the same check before DVC
acts on any other stage, also under `dvc repro -s`).
Writes data/params-checked, whose bytes never change: only a failure stops the pipeline."""
import sys
from pathlib import Path

from lhmix.core.files import replaced_on_success
from lhmix.core.stage import parser, read_params, run_stage
from lhmix.pipeline.plan import check_params

OUT = Path("data/params-checked")


def main(argv=None) -> int:
    parser(__doc__).parse_args(argv)

    def body() -> None:
        check_params(read_params())
        with replaced_on_success(OUT) as temporary:
            temporary.write_text("params.yaml describes a pipeline that can run (stages/check.py)\n")
    return run_stage("check", body)


if __name__ == "__main__":
    sys.exit(main())
