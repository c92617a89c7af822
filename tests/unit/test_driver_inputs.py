"""`enos` on hostile input and command lines: a clear message and an exit code, never a
traceback; and a closed pipe stops it quietly."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENOS = os.path.join(os.path.dirname(sys.executable), "enos")
LOCAL = os.path.join(ROOT, "inventories", "local.yml")


def enos(*args, cwd=ROOT, timeout=60):
    return subprocess.run([ENOS] + list(args), cwd=cwd, capture_output=True, text=True,
                          check=False, timeout=timeout)


@pytest.fixture(name="fifo")
def fixture_fifo(tmp_path):
    path = tmp_path / "reservation.yaml"
    os.mkfifo(str(path))
    return str(path)


@pytest.mark.parametrize("target, problem", [
    ("/dev/zero", "is not a regular file"),
    ("FIFO", "is not a regular file"),
    ("DIR", "is a directory"),
    ("NONUTF8", "not UTF-8 text"),
    ("LISTKEY", "a list is used as a key"),
])
def test_check_refuses_what_is_not_a_topology_file(tmp_path, fifo, non_utf8_file, target, problem):
    path = {"FIFO": fifo, "DIR": str(tmp_path), "NONUTF8": non_utf8_file,
            "LISTKEY": os.path.join(ROOT, "tests", "fixtures", "bad", "name-list-key.yaml"),
            }.get(target, target)
    result = enos("check", "-f", path, timeout=20)  # a FIFO or /dev/zero must not block
    assert result.returncode == 2, result
    assert problem in result.stderr
    assert "Traceback" not in result.stderr


def test_a_verb_refuses_a_fifo_before_making_an_environment(tmp_path, fifo):
    result = enos("up", "-f", fifo, "-e", str(tmp_path / "env"), timeout=20)
    assert result.returncode == 2 and "is not a regular file" in result.stderr
    assert not (tmp_path / "env").exists()


@pytest.mark.parametrize("output, problem", [
    ("/proc/enos-reservation.yaml", "cannot write /proc/enos-reservation.yaml"),
    ("NOPARENT", "cannot write"),
    ("DIR", "exists"),
])
def test_new_refuses_an_unwritable_output(tmp_path, output, problem):
    output = {"NOPARENT": str(tmp_path / "no" / "such" / "dir.yaml"),
              "DIR": str(tmp_path)}.get(output, output)
    result = enos("new", "-o", output)
    assert result.returncode == 2, result
    assert problem in result.stderr and "Traceback" not in result.stderr


def test_new_force_on_a_directory_is_refused_without_traceback(tmp_path):
    result = enos("new", "--force", "-o", str(tmp_path))
    assert result.returncode == 2 and "cannot write" in result.stderr
    assert "Traceback" not in result.stderr


def test_closed_pipe_stops_quietly(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("topology:\n  grp[1-300]: {local: {compute: 1}}\n"
                   "network_constraints: {default_delay: 10ms}\n")
    for args in (["check", "-f", str(big)], ["check", "--json", "-f", str(big)]):
        process = subprocess.Popen([ENOS] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        process.stdout.readline()
        process.stdout.close()  # as `| head -1` does
        stderr = process.stderr.read().decode()
        assert process.wait(timeout=60) == 141, stderr
        assert "Traceback" not in stderr and "BrokenPipe" not in stderr


def test_info_with_a_corrupt_state_says_how_to_fix_it(tmp_path):
    env = tmp_path / "env"
    env.mkdir()
    (env / "topology.yml").write_text(open(LOCAL).read())
    (env / "resources.json").write_text("{not json")
    result = enos("info", "-e", str(env))
    assert result.returncode == 2 and "enos up" in result.stderr
    assert "Traceback" not in result.stderr
