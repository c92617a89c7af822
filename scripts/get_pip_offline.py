"""Stand-in for the get-pip bootstrap script that ansible-test downloads from its own file host.

On machines that reach PyPI but not that host, ansible-test cannot make its sanity virtualenvs.
This script does the same job with what Python ships: ensurepip's bundled pip, then pip itself
installs what ansible-test asked for (e.g. pip==24.2) from PyPI. scripts/sanity.sh places it
where ansible-test looks for its cached copy."""
import ensurepip
import runpy
import sys

GET_PIP_ONLY = ("--no-setuptools", "--no-wheel")

ensurepip.bootstrap(upgrade=True)
sys.argv = ["pip", "install"] + [a for a in sys.argv[1:] if a not in GET_PIP_ONLY]
runpy.run_module("pip", run_name="__main__", alter_sys=True)
