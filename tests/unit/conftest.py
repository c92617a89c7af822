"""Make `ansible_collections.edge.enos` importable from a checkout (no collection install)."""
import os
import sys

import pytest

COLLECTIONS = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "collections"))
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)


@pytest.fixture(name="non_utf8_file")
def fixture_non_utf8_file(tmp_path):
    """A topology file in Latin-1 (byte 0xe9 on line 4), written at run time: the repository
    keeps only UTF-8 text."""
    path = tmp_path / "non-utf8.yaml"
    path.write_bytes(b"# a Latin-1 file\nresources:\n  control: 1\n# caf\xe9\n")
    return str(path)
