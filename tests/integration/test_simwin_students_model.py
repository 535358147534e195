"""The simulated workstation's model of each account's conda, pip and bridge (tests/simwin conda_config.py,
pip_model.py, hook.py): fast checks of single rules, driven directly (no ansible-playbook). The end-to-end
student flow after site.yml is test_fleet_students_lab.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from simwin import host as H
from simwin import programs
from simwin.conda_config import Config, NotWritable
from simwin.scenario import create_host

PRO_ROOT = "C:\\Program Files\\ArcGIS\\Pro\\bin\\Python"
PRO_CONDA = PRO_ROOT + "\\Scripts\\conda.exe"


@pytest.fixture
def host(tmp_path: Path) -> H.Host:
    return create_host(tmp_path / "h", "pro33")


def machine_condarc(host: H.Host, text: str) -> None:
    system = host.principal("SYSTEM")
    host.mkdir("C:\\ProgramData\\conda\\condarc.d", system, parents=True)
    host.write("C:\\ProgramData\\conda\\condarc.d\\lab.yml", text.encode(), system)


def test_envs_dirs_expand_per_account_and_a_students_own_condarc_comes_first(host: H.Host) -> None:
    machine_condarc(host, "envs_dirs:\n  - '~\\.conda\\envs'\n  - '%ProgramData%\\lab\\envs'\n")
    student = host.principal("student1")
    profile = host.profile_dir("student1")
    host.write(f"{profile}\\.condarc", b"envs_dirs: ['D:\\mine']\n", student)
    dirs = Config(host, student, PRO_ROOT).envs_dirs
    assert dirs[:3] == ["D:\\mine", f"{profile}\\.conda\\envs", "C:\\ProgramData\\lab\\envs"]
    # Not root_writable for a student: ~\.conda\envs (already listed) before the root's envs, then
    # %LOCALAPPDATA%\conda\conda\envs.
    assert dirs[3:] == [f"{PRO_ROOT}\\envs", f"{profile}\\AppData\\Local\\conda\\conda\\envs"]
    admin = Config(host, host.principal("svc_fleet"), PRO_ROOT).envs_dirs
    assert admin[:2] == [f"{host.profile_dir('svc_fleet')}\\.conda\\envs", "C:\\ProgramData\\lab\\envs"]
    assert admin.index(f"{PRO_ROOT}\\envs") < admin.index(
        f"{host.profile_dir('svc_fleet')}\\AppData\\Local\\conda\\conda\\envs"
    )


def test_a_non_admin_create_skips_folders_they_cannot_write(host: H.Host) -> None:
    python_at(host, "C:\\Lab\\Py", "3.11.8", 64)  # makes C:\\Lab, which only administrators may change
    machine_condarc(host, "envs_dirs: ['C:\\Lab\\envs']\n")
    result = programs.run_program(
        host, host.principal("student1"), [PRO_CONDA, "create", "-n", "x", "python=3.11"]
    )
    assert result.rc == 0, result.stderr
    assert host.is_file(f"{host.profile_dir('student1')}\\.conda\\envs\\x\\python.exe")
    assert host.is_file(f"{host.profile_dir('student1')}\\.conda\\pkgs\\urls.txt")
    assert not host.exists(f"{PRO_ROOT}\\pkgs\\urls.txt")
    assert not host.exists("C:\\Lab\\envs")


def test_no_writable_envs_dir_is_condas_error(host: H.Host) -> None:
    machine_condarc(host, "envs_dirs: ['C:\\Program Files\\envs']\n")
    system = host.principal("SYSTEM")
    profile = host.profile_dir("student1")
    # Every folder the student could use is made SYSTEM's own (a profile broken by hand).
    for folder in (f"{profile}\\.conda", f"{profile}\\AppData\\Local\\conda"):
        host.mkdir(folder, system, parents=True)
        host.set_security(folder, acl=[H.ace(H.SYSTEM, "full")], protected=True)
    config = Config(host, host.principal("student1"), PRO_ROOT)
    with pytest.raises(NotWritable, match="NoWritableEnvsDirError"):
        config.first_writable_envs_dir()
    assert (
        Config(host, host.principal("svc_fleet"), PRO_ROOT).first_writable_envs_dir()
        == "C:\\Program Files\\envs"
    )


def python_at(host: H.Host, prefix: str, version: str, bits: int) -> str:
    """An interpreter in C:\\Lab, a folder only administrators may change (Users read)."""
    system = host.principal("SYSTEM")
    if not host.exists("C:\\Lab"):
        host.mkdir("C:\\Lab", system)
        acl = [H.ace(H.SYSTEM, "full"), H.ace(H.ADMINISTRATORS, "full"), H.ace(H.USERS, "rx")]
        host.set_security("C:\\Lab", acl=acl, protected=True)
    host.mkdir(prefix + "\\Lib\\site-packages", system, parents=True)
    attrs = {"program": "python", "version": version, "bits": bits}
    host.write(
        prefix + "\\python.exe", None, system, synthetic={"size": 1, "sha256": "0" * 64, "attrs": attrs}
    )
    return prefix + "\\python.exe"


@pytest.mark.parametrize(
    ("version", "bits", "folder"),
    [
        ("3.11.8", 32, "Python311-32"),
        ("3.11.8", 64, "Python311"),
        ("3.9.12", 32, "Python39"),
        ("2.7.18", 32, "Python27"),
    ],
)
def test_the_user_site_of_each_interpreter(host: H.Host, version: str, bits: int, folder: str) -> None:
    exe = python_at(host, "C:\\Lab\\Py", version, bits)
    model = programs.PythonModel(host, host.principal("student1"), exe, {"version": version, "bits": bits})
    assert (
        model.user_site
        == f"{host.profile_dir('student1')}\\AppData\\Roaming\\Python\\{folder}\\site-packages"
    )


def pip_env(host: H.Host, pip: str) -> str:
    exe = python_at(host, "C:\\Lab\\Py", "3.11.8", 64)
    system = host.principal("SYSTEM")
    host.mkdir(f"C:\\Lab\\Py\\Lib\\site-packages\\pip-{pip}.dist-info", system)
    host.mkdir("C:\\Lab\\Py\\Lib\\site-packages\\numpy-1.24.3.dist-info", system)
    host.state["pypi"] = {
        "opencv-python": [{"version": "4.12.0.88", "requires": ["numpy>=2"]}],
        "numpy": [{"version": "2.2.6"}],
        "tabulate": [{"version": "0.9.0"}],
    }
    return exe


@pytest.mark.parametrize(("pip", "reads_site"), [("19.0.3", False), ("19.1", True), ("24.0", True)])
def test_pip_reads_the_site_pip_ini_from_19_1_and_it_overrides_user_and_global(
    host: H.Host, pip: str, reads_site: bool
) -> None:
    exe = pip_env(host, pip)
    system, student = host.principal("SYSTEM"), host.principal("student1")
    host.write("C:\\Lab\\Py\\pins.txt", b"numpy==1.24.3\n", system)
    host.write("C:\\Lab\\Py\\pip.ini", b"[install]\nconstraint = C:\\Lab\\Py\\pins.txt\n", system)
    appdata = host.user_env(student)["APPDATA"]
    host.mkdir(appdata + "\\pip", student, parents=True)
    host.write(appdata + "\\pip\\pip.ini", b"[install]\nconstraint = C:\\Lab\\Py\\none.txt\n", student)
    host.write("C:\\Lab\\Py\\none.txt", b"", system)
    result = programs.run_program(host, student, [exe, "-m", "pip", "install", "--user", "opencv-python"])
    if reads_site:  # the site file wins over the user's: numpy stays (refused by 24.0, kept by 19.1's legacy)
        assert "numpy-2.2.6" not in result.stdout, result.stdout
        assert result.rc == (1 if pip == "24.0" else 0), result.stdout + result.stderr
    else:  # the user's file only: numpy 2 goes to the user site
        assert result.rc == 0 and "numpy-2.2.6" in result.stdout, result.stderr


@pytest.mark.parametrize(("pip", "defaults_to_user"), [("19.3.1", False), ("20.0", True)])
def test_pip_without_user_in_a_folder_the_student_cannot_write(
    host: H.Host, pip: str, defaults_to_user: bool
) -> None:
    exe = pip_env(host, pip)
    result = programs.run_program(host, host.principal("student1"), [exe, "-m", "pip", "install", "tabulate"])
    if defaults_to_user:
        assert result.rc == 0 and "Defaulting to user installation" in result.stdout
    else:
        assert result.rc == 1 and "[WinError 5] Access is denied" in result.stderr
    assert not host.exists("C:\\Lab\\Py\\Lib\\site-packages\\tabulate")


def test_an_admins_pip_trusts_the_site_pip_ini_and_the_constraints_it_names(host: H.Host) -> None:
    from simwin import invariant

    exe = pip_env(host, "24.0")
    system = host.principal("SYSTEM")
    host.write("C:\\Lab\\Py\\pip.ini", b"[install]\nconstraint = C:\\Lab\\Py\\pins.txt\n", system)
    host.write("C:\\Lab\\Py\\pins.txt", b"numpy==1.24.3\n", system)
    items = {
        path
        for path, _rule, _what in invariant.trusted_items(host, system, exe, ["-m", "pip", "install", "x"])
    }
    assert {"C:\\Lab\\Py\\pip.ini", "C:\\Lab\\Py\\pins.txt"} <= items
    assert "C:\\Lab\\Py\\pip.ini" not in {
        p for p, _r, _w in invariant.trusted_items(host, system, exe, ["-c", "import sys"])
    }


def test_a_constraint_path_with_a_space_in_pip_ini_is_two_file_names(host: H.Host) -> None:
    exe = pip_env(host, "24.0")
    system = host.principal("SYSTEM")
    host.mkdir("C:\\Lab\\Py\\my pins", system)
    host.write("C:\\Lab\\Py\\my pins\\pins.txt", b"numpy==1.24.3\n", system)
    host.write("C:\\Lab\\Py\\pip.ini", b"[install]\nconstraint = C:\\Lab\\Py\\my pins\\pins.txt\n", system)
    result = programs.run_program(
        host, host.principal("student1"), [exe, "-m", "pip", "install", "--user", "tabulate"]
    )
    assert result.rc == 1 and "C:\\Lab\\Py\\my" in result.stderr, result.stderr


def test_a_constraint_named_as_a_file_url_with_a_space_is_one_file(host: H.Host) -> None:
    exe = pip_env(host, "24.0")
    system = host.principal("SYSTEM")
    host.mkdir("C:\\Lab\\Py\\my pins", system)
    host.write("C:\\Lab\\Py\\my pins\\pins.txt", b"numpy==1.24.3\n", system)
    ini = b"[install]\nconstraint = file:///C|/Lab/Py/my%20pins/pins.txt\n"
    host.write("C:\\Lab\\Py\\pip.ini", ini, system)
    result = programs.run_program(
        host, host.principal("student1"), [exe, "-m", "pip", "install", "--user", "tabulate"]
    )
    assert result.rc == 0, result.stderr


def test_conda_pkgs_dirs_in_the_environment_comes_before_every_condarc(host: H.Host) -> None:
    machine_condarc(host, "pkgs_dirs: ['~\\.conda\\pkgs', 'C:\\Lab\\pkgs']\n")
    admin = host.principal("svc_fleet")
    plain = Config(host, admin, PRO_ROOT)
    assert plain.pkgs_dirs[0] == host.profile_dir("svc_fleet") + "\\.conda\\pkgs"
    told = Config(host, admin, PRO_ROOT, {"CONDA_PKGS_DIRS": "C:\\Lab\\pkgs"})
    assert told.pkgs_dirs == ["C:\\Lab\\pkgs", host.profile_dir("svc_fleet") + "\\.conda\\pkgs"]
