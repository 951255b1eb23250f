"""Start-up refuses bad settings and unusable databases with one line and exit 2 (SPEC §14).
Each case runs the real command line as a child process."""
import os
import shutil
import sqlite3
import subprocess
import sys

import pytest

BAD_SETTINGS = [
    ["--check-interval", "nan"], ["--check-interval", "inf"], ["--check-interval", "0"],
    ["--check-interval", "-1"], ["--pending-timeout", "nan"], ["--pending-timeout=-inf"],
    ["--dns-timeout", "nan"], ["--port", "99999"], ["--port", "-1"], ["--dns-port", "-1"],
    ["--dns-port", "65536"],
]


def run_all(argument_lists: list[list[str]]) -> list[subprocess.CompletedProcess]:
    """Start every case at once (each exits at once), then collect them."""
    processes = [subprocess.Popen([sys.executable, "-m", "simulator.cli", "serve", "--port", "0", "--dns-port", "0",
                                   *arguments], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for arguments in argument_lists]
    results = []
    for process in processes:
        try:
            out, err = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
        results.append(subprocess.CompletedProcess(process.args, process.returncode, out, err))
    return results


def assert_refused(result: subprocess.CompletedProcess, *words: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, (result.args, result.returncode, result.stderr)
    assert len(lines) == 1 and lines[0].startswith("mailfrom-sim: cannot start: "), result.stderr
    assert "Traceback" not in result.stderr and "ready" not in result.stdout
    for word in words:
        assert word in lines[0], (word, lines[0])


def test_bad_settings_are_refused_with_one_line():
    for arguments, result in zip(BAD_SETTINGS, run_all([[*a, "--db", ":memory:"] for a in BAD_SETTINGS])):
        assert_refused(result, arguments[0].split("=")[0])


def make_read_only(path) -> None:
    """Read-only for this process: chmod, or for root (whom chmod does not stop) chattr +i."""
    os.chmod(path, 0o555 if os.path.isdir(path) else 0o444)
    if os.access(path, os.W_OK):
        if not shutil.which("chattr") or subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode:
            pytest.skip("cannot make a file read-only for this user")


def undo_read_only(path) -> None:
    if shutil.which("chattr"):
        subprocess.run(["chattr", "-i", str(path)], capture_output=True)
    os.chmod(path, 0o755 if os.path.isdir(path) else 0o644)


def a_database(path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE filler (n INTEGER, text TEXT)")
    conn.executemany("INSERT INTO filler VALUES (?, ?)", [(n, "x" * 200) for n in range(2000)])
    conn.commit()
    conn.close()


def test_unusable_databases_are_refused_with_one_line(tmp_path):
    read_only = tmp_path / "read-only.db"
    a_database(read_only)
    folder = tmp_path / "read-only-folder"
    folder.mkdir()
    a_database(folder / "sim.db")
    not_a_database = tmp_path / "notes.txt"
    not_a_database.write_bytes(b"these are not the pages you are looking for\n" * 200)
    damaged = tmp_path / "damaged.db"
    a_database(damaged)
    with open(damaged, "r+b") as handle:  # a page in the middle of the table's b-tree
        handle.seek(4096 * 20 + 100)
        handle.write(b"\xff" * 2000)
    cases = {"read-only file": read_only, "read-only folder": folder / "sim.db", "a directory": tmp_path,
             "not a database": not_a_database, "a damaged page": damaged}
    make_read_only(read_only)
    make_read_only(folder)
    try:
        results = run_all([["--db", str(path)] for path in cases.values()])
    finally:
        undo_read_only(read_only)
        undo_read_only(folder)
    for (case, path), result in zip(cases.items(), results):
        assert_refused(result, str(path))


def test_strict_auth_without_a_usable_credentials_file_is_refused(tmp_path):
    not_json = tmp_path / "keys.json"
    not_json.write_text("AKID=secret\n")
    no_account = tmp_path / "no-account.json"
    no_account.write_text('{"AKID": {"secret": "s"}}')
    cases = [(["--auth", "strict"], "--credentials"), (["--auth", "maybe"], "--auth"),
             (["--auth", "strict", "--credentials", str(not_json)], str(not_json)),
             (["--auth", "strict", "--credentials", str(no_account)], "account"),
             (["--auth", "strict", "--credentials", str(tmp_path / "missing.json")], "missing.json")]
    for (arguments, word), result in zip(cases, run_all([[*a, "--db", ":memory:"] for a, _ in cases])):
        assert_refused(result, word)
