"""Stand-in for the get-pip bootstrap script that ansible-test downloads from its own file host.

On machines that reach PyPI but not that host, ansible-test cannot make its sanity virtualenvs.
This script does the same job with what Python ships: ensurepip's bundled pip, then pip itself
installs what ansible-test asked for (e.g. pip==24.2) from PyPI. ansible-test runs pip with a
trimmed environment, so the CA bundle of a TLS-intercepting proxy is written into the
virtualenv's own pip.conf. scripts/sanity.sh places this file where ansible-test looks for its
cached copy."""
import ensurepip
import os
import runpy
import sys

GET_PIP_ONLY = ("--no-setuptools", "--no-wheel")
CA_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")

bundle = os.environ.get("PIP_CERT") or next((p for p in CA_BUNDLES if os.path.exists(p)), None)
if bundle:
    with open(os.path.join(sys.prefix, "pip.conf"), "w") as handle:
        handle.write("[global]\ncert = %s\n" % bundle)
config_file = os.environ.get("PIP_CONFIG_FILE")
ensurepip.bootstrap(upgrade=True)
# ensurepip points PIP_CONFIG_FILE at /dev/null in this process: give pip its configuration back
if config_file is None:
    os.environ.pop("PIP_CONFIG_FILE", None)
else:
    os.environ["PIP_CONFIG_FILE"] = config_file
sys.argv = ["pip", "install"] + [a for a in sys.argv[1:] if a not in GET_PIP_ONLY]
runpy.run_module("pip", run_name="__main__", alter_sys=True)
