"""The Windows modules the simulated host answers, each returning what the real module returns.

Return values and check-mode behaviour follow each module's own ``.ps1``/documentation in the
ansible.windows collection (``ansible_collections/ansible/windows/plugins/modules/``):
https://docs.ansible.com/ansible/latest/collections/ansible/windows/index.html
"""

from __future__ import annotations

import base64
import hashlib
import io
import ntpath
import shlex
import time
import zipfile
from typing import Any

from . import host as H
from . import programs, scripts

UNSUPPORTED_CHECK = {"win_command", "win_shell"}


class ModuleFail(Exception):
    def __init__(self, msg: str, **extra: Any) -> None:
        super().__init__(msg)
        self.extra = extra


def short_name(module: str) -> str:
    name = module.split(".")[-1]
    return {"slurp": "slurp", "win_slurp": "slurp"}.get(name, name)


def run_module(
    host: H.Host,
    module: str,
    args: dict[str, Any],
    principal: H.Principal,
    tmpdir: str | None,
    environment: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The module's JSON result (a dict), as the exec wrapper would print it."""
    name = short_name(module)
    check = bool(args.get("_ansible_check_mode"))
    handler = HANDLERS.get(name)
    if handler is None:
        return {"failed": True, "changed": False, "msg": f"simwin: module {module} not modelled"}
    if check and name in UNSUPPORTED_CHECK:
        return {
            "changed": False,
            "skipped": True,
            "msg": f"remote module ({module}) does not support check mode",
        }
    plant = host.take_fault("plant", module, _argv_text(args))
    if plant:  # a student acts between two module calls (between observe and apply), with their own rights
        student = host.as_user(str(plant["user"]))
        for folder in plant.get("mkdirs") or []:
            if not host.exists(folder):
                student.mkdir(folder)
        student.write_file(str(plant["path"]), str(plant.get("content") or ""))
    fault = host.take_fault("module_fails", module, _argv_text(args))
    if fault:
        return {
            "failed": True,
            "changed": False,
            "msg": fault.get("msg") or f"simwin: injected failure of {module}",
        }
    ctx = Ctx(host, principal, check, tmpdir, module)
    host.module_call = module
    ctx.env = dict(environment or {})
    try:
        result = handler(ctx, args)
    except ModuleFail as err:
        result = {"failed": True, "changed": False, "msg": str(err), **err.extra}
    except H.WinError as err:
        result = {"failed": True, "changed": False, "msg": str(err)}
    result.setdefault("changed", False)
    if name not in ("win_powershell",):
        result.setdefault(
            "invocation", {"module_args": {k: v for k, v in args.items() if not k.startswith("_")}}
        )
    return result


def _argv_text(args: dict[str, Any]) -> str:
    parts = []
    for key in ("argv", "cmd", "_raw_params", "arguments", "path", "script", "url", "dest"):
        value = args.get(key)
        if isinstance(value, list):
            parts += [str(v) for v in value]
        elif value:
            parts.append(str(value))
    return " ".join(parts)


class Ctx:
    def __init__(
        self, host: H.Host, principal: H.Principal, check: bool, tmpdir: str | None, module: str
    ) -> None:
        self.host, self.principal, self.check, self.tmpdir, self.module = (
            host,
            principal,
            check,
            tmpdir,
            module,
        )
        self.env: dict[str, str] = {}  # the task's environment (module_wrapper's Environment)

    def path(self, value: Any) -> str:
        if not value:
            raise ModuleFail("missing required path")
        return H.norm_path(self.host.expand(str(value), self.principal))


def _checksum(host: H.Host, node: dict[str, Any], algorithm: str = "sha1") -> str:
    if algorithm == "sha256":
        return node["sha256"]
    if node.get("synthetic"):
        if algorithm in (node.get("attrs") or {}).get("checksums", {}):
            return node["attrs"]["checksums"][algorithm]
        # A stand-in: equal content gives an equal digest (what win_copy's comparisons need), but it is not
        # the file's real digest, which only its bytes could give.
        return hashlib.new(algorithm, f"simwin-synthetic:{node['sha256']}".encode()).hexdigest()
    return hashlib.new(algorithm, host.node_bytes(node)).hexdigest()


# --- win_stat, win_file, slurp ------------------------------------------------------------------------------


def win_stat(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    path = ctx.path(args.get("path"))
    host = ctx.host
    try:
        node = host.read_node(path, ctx.principal)
    except H.WinError as err:
        if err.kind in ("missing", "missing_parent"):
            return {"changed": False, "stat": {"exists": False}}
        raise
    name = ntpath.basename(node["path"]) or node["path"]
    stat: dict[str, Any] = {
        "exists": True,
        "path": node["path"],
        "filename": name,
        "attributes": "Directory" if node["type"] == "dir" else "Archive",
        "isdir": node["type"] == "dir",
        "isreg": node["type"] == "file",
        "islnk": False,
        "isjunction": False,
        "isshared": False,
        "ishidden": False,
        "isreadonly": False,
        "isarchive": node["type"] == "file",
        "owner": host.account_name(node["owner"]) or node["owner"],
        "creationtime": node.get("mtime", 0),
        "lastaccesstime": node.get("mtime", 0),
        "lastwritetime": node.get("mtime", 0),
        "nlink": 1,
        "hlnk_targets": [],
    }
    if node["type"] == "dir":
        stat["size"] = sum(n.get("size", 0) for n in host.descendants(path) if n["type"] == "file")
    else:
        stat["size"] = node["size"]
        stat["extension"] = ntpath.splitext(name)[1]
        if args.get("get_checksum", True):
            stat["checksum"] = _checksum(host, node, str(args.get("checksum_algorithm") or "sha1"))
    return {"changed": False, "stat": stat}


def win_file(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    path = ctx.path(args.get("path") or args.get("dest") or args.get("name"))
    state = args.get("state")
    host = ctx.host
    node = host.node(path)
    if state == "absent":
        if node is None:
            return {"changed": False}
        if not ctx.check:
            host.delete(path, ctx.principal)
        return {"changed": True}
    if state is None:
        if node is None:
            raise ModuleFail(f"path {path} will not be created")
        state = "directory" if node["type"] == "dir" else "file"
    if state == "directory":
        if node is not None:
            if node["type"] != "dir":
                raise ModuleFail(f"path {path} is not a directory")
            return {"changed": False}
        if not ctx.check:
            host.mkdir(path, ctx.principal, parents=True)
        return {"changed": True}
    if state == "file":
        if node is None:
            raise ModuleFail(f"path {path} will not be created")
        if node["type"] == "dir":
            raise ModuleFail(f"path {path} is a directory")
        return {"changed": False}
    if state == "touch":
        if not ctx.check:
            if node is None:
                host.write(path, b"", ctx.principal)
            else:
                node["mtime"] = time.time()
        return {"changed": True}
    raise ModuleFail(f"simwin: not modelled: win_file state {state}")


def slurp(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    path = ctx.path(args.get("src") or args.get("path"))
    try:
        data = ctx.host.read_bytes(path, ctx.principal)
    except H.WinError as err:
        if err.kind in ("missing", "missing_parent"):
            raise ModuleFail(f"Path {path} is not found") from err
        raise
    return {
        "changed": False,
        "content": base64.b64encode(data).decode(),
        "encoding": "base64",
        "source": path,
    }


# --- win_copy ---------------------------------------------------------------------------------------------


def win_copy(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    mode = args.get("_copy_mode", "single")
    host = ctx.host
    dest = ctx.path(args.get("dest"))
    force = bool(args.get("force", True))
    if mode == "query":
        files, dirs = [], []
        for item in args.get("files") or []:
            target = H.norm_path(ntpath.join(dest, item["dest"]))
            if host.is_dir(target):
                target = ntpath.join(target, ntpath.basename(item["src"].replace("/", "\\")))
            node = host.node(target)
            if node is None:
                files.append(item)
            elif node["type"] == "dir":
                raise ModuleFail(
                    f"cannot copy file to dest '{target}': object at path is already a directory"
                )
            elif force and _checksum(host, node) != item.get("checksum"):
                files.append(item)
        for item in args.get("directories") or []:
            target = H.norm_path(ntpath.join(dest, item["dest"]))
            if host.is_file(target):
                raise ModuleFail(f"cannot copy folder to dest '{target}': object at path is already a file")
            if not host.is_dir(target):
                dirs.append(item)
        return {"changed": False, "files": files, "directories": dirs, "symlinks": []}
    if mode == "single":
        src = ctx.path(args.get("src"))
        if host.is_dir(dest) or str(args.get("dest")).endswith(("\\", "/")):
            dest = ntpath.join(dest, args.get("_original_basename") or ntpath.basename(src))
        parent = H.parent_of(dest)
        if parent and not host.is_dir(parent):
            raise ModuleFail(f"Destination directory '{parent}' does not exist")
        return _copy_one(ctx, src, dest, bool(args.get("backup")), args.get("_original_basename"))
    if mode == "explode":
        src = ctx.path(args.get("src"))
        archive = zipfile.ZipFile(io.BytesIO(host.read_bytes(src, ctx.principal)))
        if not ctx.check:
            host.mkdir(dest, ctx.principal, parents=True)
        for info in archive.infolist():
            # the action base64-encodes each relative path; zipfile adds "/" to folder entries
            is_dir = info.filename.endswith("/")
            rel = base64.b64decode(info.filename.rstrip("/")).decode("utf-8").replace("/", "\\")
            target = ntpath.join(dest, rel)
            if ctx.check:
                continue
            if is_dir:
                host.mkdir(target, ctx.principal, parents=True)
                continue
            host.mkdir(H.parent_of(target), ctx.principal, parents=True)
            host.write(target, archive.read(info), ctx.principal)
        return {"changed": True, "dest": dest, "operation": "folder_copy"}
    if mode == "remote":
        src = ctx.path(args.get("src"))
        node = host.read_node(src, ctx.principal)
        if node["type"] == "dir":
            changed = False
            base = (
                dest
                if str(args.get("src")).endswith(("\\", "/"))
                else ntpath.join(dest, ntpath.basename(src))
            )
            for child in sorted(host.descendants(src), key=lambda n: len(n["path"])):
                rel = child["path"][len(node["path"]) :].lstrip("\\")
                target = ntpath.join(base, rel)
                if child["type"] == "dir":
                    changed |= (not host.exists(target)) and (
                        ctx.check or host.mkdir(target, ctx.principal, parents=True)
                    )
                elif not host.exists(target) or (force and host.node(target)["sha256"] != child["sha256"]):
                    if not ctx.check:
                        host.mkdir(H.parent_of(target), ctx.principal, parents=True)
                        host.copy_file(child["path"], target, ctx.principal)
                    changed = True
            return {"changed": changed, "dest": dest, "operation": "folder_copy"}
        if host.is_dir(dest):
            dest = ntpath.join(dest, ntpath.basename(src))
        if host.exists(dest) and not force:
            return {"changed": False, "dest": dest}
        return _copy_one(ctx, src, dest, bool(args.get("backup")), None)
    raise ModuleFail(f"simwin: not modelled: win_copy mode {mode}")


def _copy_one(ctx: Ctx, src: str, dest: str, backup: bool, basename: str | None) -> dict[str, Any]:
    host = ctx.host
    source = host.read_node(src, ctx.principal)
    existing = host.node(dest)
    result: dict[str, Any] = {
        "dest": dest,
        "src": src,
        "checksum": _checksum(host, source),
        "size": source["size"],
        "operation": "file_copy",
        "original_basename": basename or ntpath.basename(src),
    }
    if existing is not None and existing["sha256"] == source["sha256"]:
        return {**result, "changed": False}
    if not ctx.check:
        if backup and existing is not None:
            result["backup_file"] = backup_path(dest)
            host.copy_file(dest, result["backup_file"], ctx.principal)
        host.copy_file(src, dest, ctx.principal)
    return {**result, "changed": True}


def backup_path(path: str) -> str:
    return f"{path}.{time.strftime('%Y%m%d-%H%M%S')}.bak"


# --- win_get_url ------------------------------------------------------------------------------------------


def fetch_source(ctx: Ctx, url: str) -> dict[str, Any]:
    """{size, sha256, attrs, data|None} of what a URL (network catalog, UNC or file://) gives."""
    host = ctx.host
    if url.lower().startswith(("file:", "\\\\")) or H.is_unc(url):
        path = H.norm_path(url)
        node = host.read_node(path, ctx.principal)
        data = None if node.get("synthetic") else host.node_bytes(node)
        return {
            "size": node["size"],
            "sha256": node["sha256"],
            "attrs": node.get("attrs") or {},
            "data": data,
        }
    entry = (host.state.get("network") or {}).get(url)
    if entry is None:
        raise ModuleFail(
            f"Error downloading '{url}': The remote server returned an error: (404) Not Found.",
            status_code=404,
        )
    if "content" in entry:
        data = str(entry["content"]).encode("utf-8")
        return {"size": len(data), "sha256": H.sha256_hex(data), "attrs": {}, "data": data}
    return {
        "size": int(entry["size"]),
        "sha256": str(entry["sha256"]).lower(),
        "attrs": entry.get("attrs") or {},
        "data": None,
    }


def _write_source(ctx: Ctx, dest: str, source: dict[str, Any]) -> None:
    if source["data"] is not None:
        ctx.host.write(dest, source["data"], ctx.principal)
    else:
        ctx.host.write(dest, None, ctx.principal, synthetic=source)


def _source_checksum(ctx: Ctx, source: dict[str, Any], algorithm: str) -> str:
    if algorithm == "sha256":
        return source["sha256"]
    if source["data"] is not None:
        return hashlib.new(algorithm, source["data"]).hexdigest()
    raise ModuleFail(f"simwin: not modelled: {algorithm} of a synthetic download (use sha256)")


def win_get_url(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    url = str(args.get("url"))
    dest = ctx.path(args.get("dest"))
    host = ctx.host
    if host.is_dir(dest):
        dest = ntpath.join(dest, url.replace("/", "\\").rstrip("\\").rsplit("\\", 1)[-1])
    algorithm = str(args.get("checksum_algorithm") or "sha1").lower()
    checksum = str(args["checksum"]).lower() if args.get("checksum") else None
    force = bool(args.get("force", True))
    result: dict[str, Any] = {"url": url, "dest": dest, "elapsed": 0.01, "changed": False}
    parent = H.parent_of(dest)
    if parent and not host.is_dir(parent):
        raise ModuleFail(
            f"The path '{parent}' does not exist for destination '{dest}', or is not visible to the current "
            "user.  Ensure download destination folder exists (perhaps using win_file state=directory) "
            "before win_get_url runs.",
            **result,
        )
    existing = host.node(dest)
    if (existing is not None and not force) and (
        checksum is None or _checksum(host, existing, algorithm) == checksum
    ):
        result.update(
            checksum_dest=_checksum(host, existing, algorithm) if checksum else None,
            size=existing["size"],
        )
        result["msg"] = "file already exists"
        return result
    try:
        source = fetch_source(ctx, url)
    except H.WinError as err:
        raise ModuleFail(f"Error downloading '{url}' to '{dest}': {err}", **result) from err
    actual = _source_checksum(ctx, source, algorithm) if checksum else None
    if checksum and actual != checksum:
        raise ModuleFail(f"The checksum for {url} did not match '{checksum}', it was '{actual}'", **result)
    result["checksum_src"] = actual or _source_checksum(
        ctx, source, "sha256" if source["data"] is None else algorithm
    )
    if existing is not None and existing["sha256"] == source["sha256"]:
        result.update(checksum_dest=result["checksum_src"], size=existing["size"], status_code=200, msg="OK")
        return result
    if not ctx.check:
        _write_source(ctx, dest, source)
    result.update(
        changed=True, checksum_dest=result["checksum_src"], size=source["size"], status_code=200, msg="OK"
    )
    return result


# --- win_package, win_command -----------------------------------------------------------------------------


def split_args(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return [
        p[1:-1] if len(p) > 1 and p[0] == p[-1] == '"' else p for p in shlex.split(str(value), posix=False)
    ]


def win_package(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    host = ctx.host
    state = args.get("state") or "present"
    creates = args.get("creates_path")
    result: dict[str, Any] = {"changed": False, "reboot_required": False, "rc": 0}
    if creates:
        present = host.exists(ctx.path(creates))
        if (state == "present" and present) or (state == "absent" and not present):
            return result
    path = str(args.get("path") or "")
    if not path:
        raise ModuleFail("simwin: not modelled: win_package without path (product_id only)")
    if "://" in path and not path.lower().startswith("file:"):
        if ctx.check:
            return {**result, "changed": True}
        source = fetch_source(ctx, path)
        local = ntpath.join(ctx.tmpdir or host.user_env(ctx.principal)["TEMP"], path.rsplit("/", 1)[-1])
        _write_source(ctx, local, source)
        path = local
    path = ctx.path(path)
    try:
        host.read_node(path, ctx.principal)
    except H.WinError as err:
        raise ModuleFail(f"the file at the path '{path}' cannot be reached: {err}") from err
    if ctx.check:
        return {**result, "changed": True}
    argv = [path, *split_args(args.get("arguments"))]
    run = programs.run_program(host, ctx.principal, argv, env=ctx.env)
    expected = [int(x) for x in (args.get("expected_return_code") or [0, 3010])]
    result["rc"] = run.rc
    if run.rc not in expected:
        raise ModuleFail(
            f"unexpected rc from '{' '.join(argv)}': see rc, stdout, and stderr for more details",
            rc=run.rc,
            stdout=run.stdout,
            stderr=run.stderr,
            reboot_required=False,
        )
    result.update(changed=True, reboot_required=run.rc == 3010)
    return result


def win_command(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    host = ctx.host
    if args.get("argv"):
        argv = [str(a) for a in args["argv"]]
    else:
        argv = split_args(args.get("cmd") or args.get("_raw_params"))
    cmd = " ".join(argv)
    result: dict[str, Any] = {"cmd": cmd, "rc": 0, "changed": False}
    if args.get("creates") and host.exists(ctx.path(args["creates"])):
        return {**result, "msg": f"skipped, since {args['creates']} exists", "skipped": True}
    if args.get("removes") and not host.exists(ctx.path(args["removes"])):
        return {**result, "msg": f"skipped, since {args['removes']} does not exist", "skipped": True}
    run = programs.run_program(host, ctx.principal, argv, args.get("stdin"), env=ctx.env)
    result.update(
        changed=True,
        rc=run.rc,
        stdout=run.stdout,
        stderr=run.stderr,
        stdout_lines=run.stdout.splitlines(),
        stderr_lines=run.stderr.splitlines(),
        start=time.strftime("%Y-%m-%d %H:%M:%S.000000"),
        end=time.strftime("%Y-%m-%d %H:%M:%S.000000"),
        delta="0:00:00.100000",
    )
    if run.rc != 0:
        result.update(failed=True, msg="non-zero return code")
    return result


# --- win_environment, win_certificate_store, win_reg_stat, win_regedit -------------------------------


def win_environment(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    level = args.get("level")
    if level != "machine":
        raise ModuleFail(f"simwin: not modelled: win_environment level {level} (machine only)")
    host = ctx.host
    state = args.get("state")
    variables = args.get("variables")
    if variables is None:
        name = args.get("name")
        value = args.get("value")
        variables = {name: None if state == "absent" else value}
    before = {n: host.machine_env(n) for n in variables}
    changed = False
    for name, value in variables.items():
        want = None if (value in (None, "") or state == "absent") else str(value)
        if before[name] != want:
            changed = True
            if not ctx.check:
                host.set_machine_env(name, want)
    result: dict[str, Any] = {
        "changed": changed,
        "before_value": before.get(args.get("name")) if args.get("name") else None,
    }
    if args.get("name"):
        result["value"] = variables[args["name"]]
    else:
        result["before"] = before
        result["after"] = {n: (None if v in (None, "") else v) for n, v in variables.items()}
    return result


def _thumbprint_of(host: H.Host, ctx: Ctx, path: str) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    data = host.read_bytes(path, ctx.principal)
    cert = (
        x509.load_pem_x509_certificate(data)
        if b"-----BEGIN" in data
        else x509.load_der_x509_certificate(data)
    )
    return cert.fingerprint(hashes.SHA1()).hex().upper()


def win_certificate_store(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    location = args.get("store_location") or "LocalMachine"
    store_name = args.get("store_name") or "My"
    store = ctx.host.store(f"{location}\\{store_name}")
    state = args.get("state") or "present"
    thumbprints: list[str] = []
    if args.get("path"):
        thumbprints.append(_thumbprint_of(ctx.host, ctx, ctx.path(args["path"])))
    if args.get("thumbprint"):
        thumbprints.append(str(args["thumbprint"]).upper())
    changed = False
    for thumb in thumbprints:
        if state == "present" and thumb not in store:
            changed = True
            if not ctx.check:
                store.append(thumb)
        elif state == "absent" and thumb in store:
            changed = True
            if not ctx.check:
                store.remove(thumb)
    return {"changed": changed, "thumbprints": thumbprints}


def win_reg_stat(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    path = str(args.get("path"))
    key = ctx.host.reg_key(path)
    if key is None:
        return {"changed": False, "exists": False}
    name = args.get("name")
    if name is not None:
        value = next((v for n, v in key["values"].items() if n.lower() == str(name).lower()), None)
        if value is None:
            return {"changed": False, "exists": False}
        return {"changed": False, "exists": True, "type": value[0], "value": value[1], "raw_value": value[1]}
    props = {n: {"type": v[0], "value": v[1], "raw_value": v[1]} for n, v in key["values"].items()}
    subkeys = ctx.host.reg_subkeys(path)
    return {"changed": False, "exists": True, "properties": props, "sub_keys": subkeys}


def win_regedit(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    host = ctx.host
    path = str(args.get("path"))
    name = args.get("name")
    state = args.get("state") or "present"
    kind = {
        "string": "REG_SZ",
        "expandstring": "REG_EXPAND_SZ",
        "dword": "REG_DWORD",
        "qword": "REG_QWORD",
        "multistring": "REG_MULTI_SZ",
        "binary": "REG_BINARY",
        "none": "REG_NONE",
    }[str(args.get("type") or "string").lower()]
    data = args.get("data")
    if kind in ("REG_DWORD", "REG_QWORD") and data is not None:
        data = int(str(data), 0)
    key = host.reg_key(path)
    if state == "absent":
        if key is None:
            return {"changed": False, "data_changed": False, "data_type_changed": False}
        if name is None:
            if not ctx.check:
                host.reg_delete_key(path)
            return {"changed": True}
        present = name in key["values"]
        if present and not ctx.check:
            host.reg_delete_value(path, name)
        return {"changed": present}
    if name is None:
        if key is not None:
            return {"changed": False}
        if not ctx.check:
            host.reg_ensure(path)
        return {"changed": True}
    current = (key or {"values": {}})["values"].get(name)
    want = [kind, data if data is not None else ""]
    changed = current != want
    if changed and not ctx.check:
        host.reg_set(path, name, want[1], kind)
    return {
        "changed": changed,
        "data_changed": bool(current and current[1] != want[1]),
        "data_type_changed": bool(current and current[0] != kind),
    }


# win_acl: the .NET FileSystemRights names it takes, its inherit/propagation flags, and account names.
ACL_RIGHTS = {
    "fullcontrol": H.FULL,
    "modify": H.MODIFY,
    "readandexecute": H.READ_EXECUTE,
    "read": H.READ,
    "write": 278,  # WriteData, AppendData, WriteExtendedAttributes, WriteAttributes
}
ACL_ACCOUNTS = {name.lower(): sid for sid, name in H.WELL_KNOWN.items()} | {
    "users": H.USERS,
    "administrators": H.ADMINISTRATORS,
    "system": H.SYSTEM,
    "authenticated users": H.AUTHENTICATED_USERS,
}


def _acl_inherit(value: Any, is_dir: bool) -> str:
    flags = {f.strip().lower() for f in str(value).split(",")} if value else set()
    if not value:
        return "both" if is_dir else "none"  # win_acl's default: ContainerInherit, ObjectInherit on folders
    return {
        frozenset({"containerinherit", "objectinherit"}): "both",
        frozenset({"containerinherit"}): "container",
        frozenset({"objectinherit"}): "object",
        frozenset({"none"}): "none",
    }[frozenset(flags)]


def win_acl(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    """ansible.windows.win_acl on a file or folder: one allow/deny entry for ``user`` (a SID or a well-known
    or local account name) with ``rights`` (comma-separated FileSystemRights names), ``inherit`` and
    ``propagation`` (``InheritOnly``: the entry applies only to children); ``state`` present adds it when no
    equal explicit entry exists, absent removes it. Children take an inheritable entry at once (setting a
    DACL propagates it: https://learn.microsoft.com/en-us/windows/win32/secauthz/ace-inheritance-rules ).
    Needs WRITE_DAC on the object. https://docs.ansible.com/ansible/latest/collections/ansible/windows/win_acl_module.html"""
    host = ctx.host
    path = ctx.path(args.get("path"))
    node = host.node(path)
    if node is None:
        raise ModuleFail(f"{path} file or directory does not exist on the host")
    user = str(args.get("user") or "")
    sid = user if user.upper().startswith("S-1-") else ACL_ACCOUNTS.get(user.lower().split("\\")[-1])
    if sid is None:
        try:
            sid = host.principal(user).sid
        except H.WinError as err:
            raise ModuleFail(f"{user} is not a valid user or group on the host machine or domain") from err
    rights = 0
    for name in str(args.get("rights") or "").split(","):
        if name.strip().lower() not in ACL_RIGHTS:
            raise ModuleFail(f"simwin: not modelled: win_acl rights {name.strip()!r}")
        rights |= ACL_RIGHTS[name.strip().lower()]
    is_dir = node["type"] == "dir"
    inherit = _acl_inherit(args.get("inherit"), is_dir) if is_dir else "none"
    inherit_only = str(args.get("propagation") or "None").lower() == "inheritonly"
    wanted = H.ace(sid, rights, inherit, inherit_only, False, str(args.get("type") or "allow").lower())
    explicit = [e for e in node["acl"] if not e["inherited"]]
    present = wanted in explicit
    state = args.get("state") or "present"
    changed = present != (state == "present")
    if changed and not ctx.check:
        if not host.allowed(node, ctx.principal, H.WRITE_DAC):
            raise H.denied(path)
        own = [e for e in explicit if e != wanted] + ([wanted] if state == "present" else [])
        host.set_security(path, acl=own)
        host.reapply_inheritance(path)
    return {"changed": changed}


def win_powershell(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    return scripts.run_powershell(ctx, args)


def win_ping(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    return {"changed": False, "ping": args.get("data") or "pong"}


HANDLERS = {
    "win_stat": win_stat,
    "win_file": win_file,
    "slurp": slurp,
    "win_copy": win_copy,
    "win_get_url": win_get_url,
    "win_package": win_package,
    "win_command": win_command,
    "win_environment": win_environment,
    "win_certificate_store": win_certificate_store,
    "win_reg_stat": win_reg_stat,
    "win_regedit": win_regedit,
    "win_powershell": win_powershell,
    "win_ping": win_ping,
    "win_acl": win_acl,
}
