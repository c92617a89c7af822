"""Backup: secret redaction, the tarball's manifest and its verification (pure Python)."""

from __future__ import annotations

import io
import json
import os
import tarfile

import pytest

from ansible_collections.edge.enos.plugins.module_utils import backup as bk

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "monitoring")
PASSWORDS = {
    "database_password": "Zq8v3dd0pQ1mM2",
    "keystone_admin_password": "kA9!x$y/z+w=",
    "docker_registry_password": None,
    "enable_x": True,
    "nova_ssh_key": {"private_key": "-----BEGIN OPENSSH PRIVATE KEY-----\n"
                                    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAAB\n"
                                    "-----END OPENSSH PRIVATE KEY-----\n",
                     "public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHf root@x"},
}


def test_secret_values_takes_every_string_leaf_and_the_lines_of_keys():
    values = bk.secret_values(PASSWORDS)
    assert "Zq8v3dd0pQ1mM2" in values and "kA9!x$y/z+w=" in values
    assert "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAAB" in values
    assert "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHf root@x" in values
    assert "True" not in values and "None" not in values
    assert values == sorted(values, key=lambda s: (-len(s), s))


def test_redactor_removes_values_keys_assignments_and_url_passwords():
    redact = bk.Redactor(bk.secret_values(PASSWORDS))
    text = ("[database]\nconnection = mysql+pymysql://keystone:Zq8v3dd0pQ1mM2@10.0.0.1/keystone\n"
            "admin = kA9!x$y/z+w=\nmemcache_secret_key = notinpasswords\n"
            "transport_url = rabbit://openstack:other@10.0.0.1:5672//\n"
            "key: b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAAB\n").encode()
    out = redact(text)
    for secret in (b"Zq8v3dd0pQ1mM2", b"kA9!x$y/z+w=", b"notinpasswords", b"other",
                   b"b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAAB"):
        assert secret not in out, out
    assert b"rabbit://openstack:<redacted>@10.0.0.1:5672//" in out
    assert b"connection = mysql+pymysql://keystone:<redacted>@10.0.0.1/keystone" in out
    assert redact.leaks(out) == []
    assert redact.leaks(text) != []          # the check itself finds a leak in the raw text


def _write_archive(tmp_path, files, redactor=None):
    archive = bk.Archive(str(tmp_path / "env-x.tar.gz"), "env-x", redactor)
    for name, data, redact in files:
        archive.add_bytes(name, data, redact=redact)
    manifest = archive.close({"format": 1})
    return str(tmp_path / "env-x.tar.gz"), manifest


def test_archive_manifest_lists_every_file_with_its_checksum(tmp_path):
    redactor = bk.Redactor(["s3cretvalue"])
    path, manifest = _write_archive(tmp_path, [
        ("a/one.txt", b"hello s3cretvalue", True), ("b/two.bin", b"\x00\x01", False)], redactor)
    assert not os.path.exists(path + ".partial")
    assert manifest["files"]["a/one.txt"]["size"] == len(b"hello <redacted>")
    top, read, seen = bk.read_manifest(path)
    assert top == "env-x" and read["files"] == manifest["files"]
    assert bk.check_manifest(read, seen) == []
    with tarfile.open(path) as tar:
        assert tar.extractfile("env-x/a/one.txt").read() == b"hello <redacted>"


def test_verify_names_a_changed_a_missing_and_an_unlisted_file(tmp_path):
    path, manifest = _write_archive(tmp_path, [("a.txt", b"one", False), ("b.txt", b"two", False)])
    # rebuild the tarball with a.txt changed, b.txt gone and c.txt added, same manifest
    forged = tmp_path / "forged.tar.gz"
    with tarfile.open(forged, "w:gz") as tar:
        for name, data in (("a.txt", b"ONE"), ("c.txt", b"new"),
                           ("manifest.json", json.dumps(manifest).encode())):
            info = tarfile.TarInfo("env-x/" + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    _top, read, seen = bk.read_manifest(str(forged))
    problems = bk.check_manifest(read, seen)
    assert len(problems) == 3, problems
    assert problems[0].startswith("a.txt: sha256/size")
    assert problems[1] == "b.txt: listed in the manifest, missing from the tarball"
    assert problems[2] == "c.txt: in the tarball, not in the manifest"
    result = bk.verify(str(forged), restore=False, log=lambda _m: None)
    assert result["problems"] == problems


def test_verify_refuses_what_is_not_a_backup(tmp_path):
    bogus = tmp_path / "x.tar.gz"
    bogus.write_bytes(b"not a tarball")
    with pytest.raises(bk.BackupError, match="not a readable backup tarball"):
        bk.read_manifest(str(bogus))
    empty = tmp_path / "empty.tar.gz"
    with tarfile.open(empty, "w:gz"):
        pass
    with pytest.raises(bk.BackupError, match="no manifest.json"):
        bk.read_manifest(str(empty))


def test_tar_stream_members_are_added_one_by_one_and_redacted(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in (("./etc/kolla/keystone/keystone.conf", b"password = hunter2hunter\n"),
                           ("./etc/kolla/readme", b"plain\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        folder = tarfile.TarInfo("./etc/kolla/dir")
        folder.type = tarfile.DIRTYPE
        tar.addfile(folder)
    buf.seek(0)
    archive = bk.Archive(str(tmp_path / "s.tar.gz"), "s")
    assert archive.add_tar_stream(buf, "nodes/n1/kolla-config", redact=True) == 2
    manifest = archive.close({})
    assert sorted(manifest["files"]) == ["nodes/n1/kolla-config/etc/kolla/keystone/keystone.conf",
                                         "nodes/n1/kolla-config/etc/kolla/readme"]
    with tarfile.open(tmp_path / "s.tar.gz") as tar:
        data = tar.extractfile("s/nodes/n1/kolla-config/etc/kolla/keystone/keystone.conf").read()
    assert data == b"password = <redacted>\n"


def test_tar_paths_command_skips_missing_paths():
    cmd = bk.tar_paths_command(["/etc/kolla", "/var/lib/docker/volumes/kolla_logs/_data"])
    assert "'etc/kolla'" in cmd and "--ignore-failed-read" in cmd


def test_bench_runs_reads_rally_task_ids_and_windows(tmp_path):
    bench = tmp_path / "bench" / "run-1"
    bench.mkdir(parents=True)
    src = os.path.join(FIXTURES, "rally-dummy.json")
    (bench / "rally.json").write_bytes(open(src, "rb").read())
    (bench / "summary.json").write_text(json.dumps({"rally_version": "5.1.1"}))
    runs = bk.bench_runs(str(tmp_path))
    assert [r["id"] for r in runs] == ["run-1"]
    run = runs[0]
    raw = json.load(open(src))
    assert [t["uuid"] for t in run["tasks"]] == [t["uuid"] for t in raw["tasks"]]
    stamps = [d["timestamp"] for t in raw["tasks"] for s in t["subtasks"] for w in s["workloads"]
              for d in w["data"]]
    assert run["start"] == min(stamps) and run["end"] > max(stamps)
    assert run["summary"]["rally_version"] == "5.1.1"
    assert bk.versions(str(tmp_path), ".", runs)["rally"] == ["5.1.1"]
