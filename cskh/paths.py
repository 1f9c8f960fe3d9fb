"""Where things live in a checkout; every default path is derived from here.

`CSKH_HOME` overrides the repository root so an installed copy can point at a data folder.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(os.environ.get("CSKH_HOME", Path(__file__).resolve().parent.parent))
VAR_DIR = REPO_ROOT / "var"
ARTICLES_DIR = REPO_ROOT / "knowledge_base" / "articles"
DEFAULT_INDEX_DIR = VAR_DIR / "index"
MODELS_DIR = VAR_DIR / "models"
