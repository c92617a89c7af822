"""Make `ansible_collections.edge.enos` importable from a checkout (no collection install)."""
import os
import sys

COLLECTIONS = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "collections"))
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)
