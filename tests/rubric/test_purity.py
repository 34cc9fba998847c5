"""The rubric package stays pure: loading and scoring pull in no database or web code."""

import subprocess
import sys
from pathlib import Path


def test_rubric_definitions_and_scoring_import_no_database_workflow_or_api_code() -> None:
    program = (
        "import sys, rubric.definitions, rubric.scoring\n"
        "roots = {'sqlmodel', 'sqlalchemy', 'workflow', 'api', 'plumbing', 'notifications'}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & roots))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                            check=True, cwd=Path(__file__).parents[2])
    assert loaded.stdout.strip() == "[]"
