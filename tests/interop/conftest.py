"""Make the repository root importable (``import ledger``) when pytest runs these tests.

There is no pytest ``pythonpath`` setting in the repository yet; once one exists (for example
``[tool.pytest.ini_options] pythonpath = ["."]``) this file can go.
"""

import sys
from pathlib import Path

REPO_ROOT = str(Path(__file__).resolve().parents[2])
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)
