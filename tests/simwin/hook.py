"""The shipped start-up hook (roles/startup_bridge/files/arcgis_conda_bridge.py), run on the simulated host.

Not an imitation: the hook's own source is compiled once and executed in a fresh module per simulated
interpreter (one module per process, as ``import arcgis_conda_bridge`` caches it in sys.modules, so its
REPORT and once-per-process user read are the process's). Only what the hook reaches of the operating
system is replaced by the simulated Windows host, as the running account sees it:

- ``os`` with ``os.name == "nt"``, ``os.sep == "\\\\"``, ``os.path`` = CPython's ``ntpath`` for the path
  arithmetic (https://docs.python.org/3/library/os.path.html : "ntpath for Windows paths"), and the
  file-system calls (isdir, isfile, exists, listdir, makedirs, remove, rename, realpath following junctions)
  on the simulated file system, checked with the account's rights; ``os.environ`` is the process's
  environment (the account's ``%USERPROFILE%``, ``%APPDATA%``, ... plus what the run sets);
  ``os.add_dll_directory`` exists from Python 3.8 (https://docs.python.org/3/library/os.html#os.add_dll_directory);
- ``open`` reads and writes simulated files as that account (access denied as Windows says);
- ``sys``: version_info, prefix, flags (``-E``/``-s``/``-I``: ignore_environment, no_user_site, isolated,
  https://docs.python.org/3/library/sys.html#sys.flags), the interpreter's sys.path list itself;
- ``struct.calcsize("P")`` is 4 in a 32-bit Python, 8 in a 64-bit one;
- ``ctypes.windll.shell32.IsUserAnAdmin()`` is true in an administrator's (elevated) process
  (https://learn.microsoft.com/en-us/windows/win32/api/shlobj_core/nf-shlobj_core-isuseranadmin ; the
  lab's WinRM sessions run with the administrator's full token).
"""

from __future__ import annotations

import contextlib
import io
import ntpath
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import host as H

HOOK = Path(__file__).resolve().parents[2] / "roles" / "startup_bridge" / "files" / "arcgis_conda_bridge.py"
_CODE: dict[str, Any] = {}


def _code() -> Any:
    text = HOOK.read_text(encoding="utf-8")
    if _CODE.get("text") != text:
        _CODE.update(text=text, code=compile(text, str(HOOK), "exec"))
    return _CODE["code"]


class _SimFile(io.BytesIO):
    def __init__(self, sim: SimOS, path: str, mode: str) -> None:
        self.sim, self.path, self.mode = sim, path, mode
        data = b"" if "w" in mode else sim.host.read_bytes(path, sim.actor)
        super().__init__(data)
        if "w" in mode:  # Windows opens (creates) the file for writing now: denied here, not at close
            sim.host.write(path, b"", sim.actor)

    def close(self) -> None:
        if "w" in self.mode and not self.closed:
            self.sim.host.write(self.path, self.getvalue(), self.sim.actor)
        super().close()

    def readlines(self, hint: int = -1) -> list[Any]:  # text mode (pth_lines) reads str lines
        lines = super().readlines(hint)
        return lines if "b" in self.mode else [line.decode("utf-8", "replace") for line in lines]

    def read(self, size: int | None = -1) -> Any:
        data = super().read(size)
        return data if "b" in self.mode else data.decode("utf-8", "replace")


def _winerror(err: H.WinError) -> OSError:
    if err.kind == "denied":
        return PermissionError(13, str(err))
    if err.kind in ("missing", "missing_parent"):
        return FileNotFoundError(2, str(err))
    return OSError(str(err))


class _Path(types.SimpleNamespace):
    pass


class SimOS:
    """What the hook uses of ``os``, on the simulated host as one account."""

    name = "nt"
    sep = "\\"
    altsep = "/"
    pathsep = ";"

    def __init__(self, host: H.Host, actor: H.Principal, environ: dict[str, str], version: tuple) -> None:
        self.host, self.actor, self.environ = host, actor, environ
        self.dll_handles: list[str] = []
        self.path = _Path(
            join=ntpath.join,
            dirname=ntpath.dirname,
            basename=ntpath.basename,
            normpath=ntpath.normpath,
            normcase=ntpath.normcase,
            abspath=lambda p: H.norm_path(ntpath.abspath(p)) if ntpath.isabs(p) else p,
            isabs=ntpath.isabs,
            isdir=host.is_dir,
            isfile=host.is_file,
            exists=host.exists,
            realpath=lambda p: host.resolve(p),
            expanduser=lambda p: environ.get("USERPROFILE", "~") + p[1:] if p.startswith("~") else p,
        )
        if version >= (3, 8):
            self.add_dll_directory = self._add_dll_directory

    def _add_dll_directory(self, folder: str) -> str:
        self.dll_handles.append(folder)
        return folder

    def listdir(self, folder: str) -> list[str]:
        try:
            self.host.read_node(folder, self.actor)
        except H.WinError as err:
            raise _winerror(err) from None
        return [ntpath.basename(c["path"]) for c in self.host.children(folder)]

    def makedirs(self, folder: str) -> None:
        try:
            self.host.mkdir(folder, self.actor, parents=True)
        except H.WinError as err:
            raise _winerror(err) from None

    def remove(self, path: str) -> None:
        try:
            self.host.delete(path, self.actor)
        except H.WinError as err:
            raise _winerror(err) from None

    def rename(self, src: str, dest: str) -> None:
        if self.host.exists(dest):
            raise FileExistsError(183, f"Cannot create a file when that file already exists: {dest!r}")
        try:
            self.host.copy_file(src, dest, self.actor)
            self.host.delete(src, self.actor)
        except H.WinError as err:
            raise _winerror(err) from None


class _Flags(types.SimpleNamespace):
    pass


def load(model: Any) -> types.ModuleType:
    """The hook module of one simulated process (``model``: programs.PythonModel), loaded once."""
    cached = getattr(model, "hook_module", None)
    if cached is not None:
        return cached
    version = tuple(int(x) for x in model.version.split(".")[:3])
    environ = {k: v for k, v in model.host.user_env(model.actor).items()}
    environ.update(model.env_original)
    sim_os = SimOS(model.host, model.actor, environ, version)
    flags = _Flags(
        ignore_environment=int("-E" in model.options or "-I" in model.options),
        no_user_site=int("-s" in model.options or "-I" in model.options),
        isolated=int("-I" in model.options),
        verbose=0,
    )
    sim_sys = types.SimpleNamespace(
        version_info=version,
        prefix=model.prefix,
        flags=flags,
        path=model.path,
        stdout=io.StringIO(),
        stderr=io.StringIO(),
        argv=[],
        getfilesystemencoding=lambda: "mbcs",
    )
    module = types.ModuleType("arcgis_conda_bridge")
    module.__file__ = model.hook_file
    exec(_code(), module.__dict__)
    module.os = sim_os
    module.sys = sim_sys
    module.struct = types.SimpleNamespace(calcsize=lambda fmt: model.bits // 8)

    def sim_open(path: str, mode: str = "r") -> _SimFile:
        try:
            return _SimFile(sim_os, path, mode)
        except H.WinError as err:
            raise _winerror(err) from None

    module.open = sim_open
    model.hook_module = module
    return module


@contextlib.contextmanager
def _is_user_an_admin(admin: bool) -> Iterator[None]:
    """``import ctypes`` inside the hook's elevated() gets a windll whose IsUserAnAdmin is the account's."""
    fake = types.ModuleType("ctypes")
    fake.windll = types.SimpleNamespace(shell32=types.SimpleNamespace(IsUserAnAdmin=lambda: int(admin)))
    saved = sys.modules.get("ctypes")
    sys.modules["ctypes"] = fake
    try:
        yield
    finally:
        if saved is not None:
            sys.modules["ctypes"] = saved
        else:
            sys.modules.pop("ctypes", None)


def run(model: Any, data_path: str | None) -> list[dict[str, Any]]:
    """The hook's run(data_path) in that process (it never raises); its REPORT so far."""
    module = load(model)
    with _is_user_an_admin(model.actor.admin or model.actor.sid == H.SYSTEM):
        module.run(data_path)
    model.dll_dirs = list(module.os.dll_handles)
    return module.REPORT


def main(model: Any, argv: list[str]) -> tuple[int, str]:
    """``python -m arcgis_conda_bridge argv...``: the hook's main(), its exit status and output."""
    module = load(model)
    out = io.StringIO()
    with _is_user_an_admin(model.actor.admin or model.actor.sid == H.SYSTEM):
        status = module.main(list(argv), out)
    return int(status), out.getvalue()
