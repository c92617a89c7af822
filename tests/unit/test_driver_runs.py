"""The driver's playbook runs, through the real ansible-runner and ansible-playbook on
localhost (no Docker): each run's own settings, role messages shown, skipped tasks not listed,
missing collections named with the command that installs them."""

from __future__ import annotations

import os

import driver

ORIGINAL_PATH = os.environ["PATH"]

PLAYBOOK = """\
- hosts: all
  gather_facts: false
  tasks:
    - name: Tell the user where this run looks for programs
      ansible.builtin.debug:
        msg:
          - "PATH {{ lookup('ansible.builtin.env', 'PATH') }}"
          - "marker {{ marker }}"
    - name: A task that does not apply here
      ansible.builtin.debug:
        msg: never shown
      when: false
    - name: A diagnostic for debugging only
      ansible.builtin.debug:
        msg: hidden at the default verbosity
        verbosity: 1
"""


def run(tmp_path, monkeypatch, capsys, path_marker, marker):
    playbook = tmp_path / "probe.yml"
    playbook.write_text(PLAYBOOK)
    inventory = tmp_path / "hosts"
    inventory.write_text("localhost ansible_connection=local ansible_python_interpreter=%s\n"
                         % driver.sys.executable)
    monkeypatch.setattr(driver, "playbook_path", lambda name: str(playbook))
    monkeypatch.setenv("PATH", "%s%s%s" % (path_marker, os.pathsep, ORIGINAL_PATH))
    code = driver.run_playbook("probe", "probe", str(tmp_path / "env"), str(inventory),
                               {"marker": marker})
    return code, capsys.readouterr().out


def test_each_run_uses_its_own_settings_and_shows_role_messages(tmp_path, monkeypatch, capsys):
    code, first = run(tmp_path, monkeypatch, capsys, "/first-run-bin", "one")
    assert code == driver.EXIT_OK, first
    assert "/first-run-bin" in first and "| marker one" in first
    # a later run from another shell (another PATH) with other variables
    code, second = run(tmp_path, monkeypatch, capsys, "/second-run-bin", "two")
    assert code == driver.EXIT_OK, second
    assert "/second-run-bin" in second and "/first-run-bin" not in second
    assert "| marker two" in second and "marker one" not in second
    # the message of the debug task is shown under it; skipped and verbosity-1 tasks are not
    assert "  Tell the user where this run looks for programs" in second
    assert "| PATH %s" % os.path.dirname(driver.sys.executable) in second
    assert "A task that does not apply here" not in second and "never shown" not in second
    assert "A diagnostic for debugging only" not in second
    assert not os.path.exists(tmp_path / "env" / "runner" / "env" / "envvars")


def test_missing_collection_is_named_with_the_fix(tmp_path, monkeypatch, capsys):
    requirements = tmp_path / "requirements.yml"
    requirements.write_text("collections:\n  - name: community.general\n"
                            "  - name: nosuch.collection\n    version: '>=1.0'\n")
    assert driver.missing_collections(str(requirements)) == ["nosuch.collection"]
    monkeypatch.setattr(driver, "REQUIREMENTS", str(requirements))
    code = driver.run_playbook("up", "up", str(tmp_path / "env"), str(tmp_path / "hosts"))
    err = capsys.readouterr().err
    assert code == driver.EXIT_UNAVAILABLE
    assert "nosuch.collection is not installed" in err
    assert "ansible-galaxy collection install -r %s" % requirements in err


def test_the_project_requirements_are_installed():
    assert driver.missing_collections() == []
