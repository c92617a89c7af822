"""The collection as users get it: Galaxy tarball, sanity, lint, role interfaces."""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import tarfile

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
# every role directory, with or without a spec: a role lacking one must fail, not be skipped
ROLES = sorted(os.path.basename(p) for p in glob.glob(os.path.join(ROOT, "roles", "*"))
               if os.path.isdir(p))


def run(command, **kwargs):
    kwargs.setdefault("cwd", ROOT)
    return subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)


@pytest.fixture(scope="module")
def tarball(tmp_path_factory):
    out = tmp_path_factory.mktemp("galaxy")
    result = run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--force",
                  "--output-path", str(out), "."])
    assert result.returncode == 0, result.stdout + result.stderr
    return glob.glob(str(out / "edge-enos-*.tar.gz"))[0]


def test_galaxy_tarball_leaves_dev_folders_out(tarball):
    with tarfile.open(tarball) as archive:
        names = archive.getnames()
    assert "MANIFEST.json" in names and "plugins/inventory/topology.py" in names
    for dev in ("collections/", ".venv/", "molecule/", "benchmarks/", ".ci/", ".git/"):
        assert not [n for n in names if n.startswith(dev)], dev


def test_installed_tarball_works_outside_the_checkout(tarball, tmp_path):
    target = tmp_path / "collections"
    result = run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "--offline",
                  "--no-deps", "-p", str(target), tarball], cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr
    topology = tmp_path / "site.yml"
    topology.write_text(open(os.path.join(ROOT, "inventories", "local.yml")).read())
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(target), ENOS_ENV=str(tmp_path / "env"))
    env.pop("ANSIBLE_CONFIG", None)
    env["ANSIBLE_INVENTORY_ENABLED"] = "edge.enos.topology"
    graph = run([os.path.join(BIN, "ansible-inventory"), "-i", str(topology), "--graph"],
                cwd=str(tmp_path), env=env)
    assert graph.returncode == 0, graph.stderr
    assert "@grp3:" in graph.stdout and "grp3-compute-1" in graph.stdout


def spec_problems(base):
    """What is wrong with a role's interface: no meta/argument_specs.yml, options not prefixed
    with the role's name, defaults without a spec, defaults that disagree with their spec."""
    role = os.path.basename(base)
    spec_file = os.path.join(base, "meta", "argument_specs.yml")
    if not os.path.exists(spec_file):
        return ["%s has no meta/argument_specs.yml" % role]
    with open(spec_file) as handle:
        entry_points = (yaml.safe_load(handle) or {}).get("argument_specs") or {}
    if not entry_points:
        return ["%s: meta/argument_specs.yml has no entry point" % role]
    options = {}
    for entry_point in entry_points.values():
        options.update(entry_point.get("options") or {})
    defaults_file = os.path.join(base, "defaults", "main.yml")
    defaults = {}
    if os.path.exists(defaults_file):
        with open(defaults_file) as handle:
            defaults = yaml.safe_load(handle) or {}
    problems = ["%s: option %s is not prefixed with %s_" % (role, name, role)
                for name in sorted(options) if not name.startswith(role + "_")]
    problems += ["%s: default %s has no spec" % (role, name)
                 for name in sorted(set(defaults) - set(options))]
    problems += ["%s: %s defaults to %r, its spec says %r"
                 % (role, name, defaults[name], spec["default"])
                 for name, spec in sorted(options.items())
                 if name in defaults and "default" in spec and spec["default"] != defaults[name]]
    return problems


@pytest.mark.parametrize("role", ROLES)
def test_role_argument_specs_agree_with_defaults(role):
    assert spec_problems(os.path.join(ROOT, "roles", role)) == []


def test_spec_check_fails_on_roles_with_a_missing_or_wrong_spec(tmp_path):
    nospec = tmp_path / "nospec"
    (nospec / "defaults").mkdir(parents=True)
    (nospec / "defaults" / "main.yml").write_text("nospec_port: 1\n")
    (nospec / "tasks").mkdir()
    (nospec / "tasks" / "main.yml").write_text("- ansible.builtin.meta: noop\n")
    assert spec_problems(str(nospec)) == ["nospec has no meta/argument_specs.yml"]
    assert "nospec" in [os.path.basename(p) for p in glob.glob(str(tmp_path / "*"))
                        if os.path.isdir(p)]  # the listing that ROLES uses finds it
    (nospec / "meta").mkdir()
    (nospec / "meta" / "argument_specs.yml").write_text(
        "argument_specs:\n  main:\n    options:\n"
        "      nospec_port: {type: int, default: 2}\n      port: {type: int}\n")
    (nospec / "defaults" / "main.yml").write_text("nospec_port: 1\nnospec_host: x\n")
    assert spec_problems(str(nospec)) == [
        "nospec: option port is not prefixed with nospec_",
        "nospec: default nospec_host has no spec",
        "nospec: nospec_port defaults to 1, its spec says 2"]


def test_ansible_lint_production_profile():
    result = run([os.path.join(BIN, "ansible-lint"), "--profile", "production", "--nocolor"],
                 env=dict(os.environ, PATH=BIN + os.pathsep + os.environ["PATH"]))
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]


def test_ansible_test_sanity():
    result = run([os.path.join(ROOT, "scripts", "sanity.sh")])
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-3000:]
