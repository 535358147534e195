# arcgis_conda_bridge: installed by the arcgis_conda.fleet role startup_bridge; it removes it again.
# Runs the user's own usercustomize.py first when the role found one (kept beside this file as
# usercustomize.py.arcgis_conda_bridge.bak), then the ArcGIS <-> conda bridge with the data file here.
# Python 2.7 and 3.x. Never raises.
import os as _acb_os
import sys as _acb_sys

_acb_here = _acb_os.path.dirname(_acb_os.path.abspath(__file__))
_acb_original = _acb_os.path.join(_acb_here, "usercustomize.py.arcgis_conda_bridge.bak")
if _acb_os.path.isfile(_acb_original):
    try:
        with open(_acb_original, "rb") as _acb_handle:
            _acb_code = compile(_acb_handle.read(), _acb_original, "exec")
        # The user's own file, run in this module's namespace as if it were still usercustomize.py.
        exec(_acb_code, globals())  # noqa: S102
    except Exception as _acb_err:
        # What site.execusercustomize would have printed for the user's own file.
        if _acb_sys.flags.verbose:
            _acb_sys.excepthook(*_acb_sys.exc_info())
        else:
            _acb_sys.stderr.write(
                "Error in usercustomize; set PYTHONVERBOSE for traceback:\n%s: %s\n"
                % (_acb_err.__class__.__name__, _acb_err)
            )
# No .pyc for the hook: state absent then has nothing of it to miss.
_acb_dont_write = _acb_sys.dont_write_bytecode
_acb_sys.dont_write_bytecode = True
try:
    import arcgis_conda_bridge as _acb_bridge

    _acb_bridge.run(_acb_os.path.join(_acb_here, "arcgis_conda_bridge.json"))
except Exception as _acb_err:
    if _acb_os.environ.get("ARCGIS_CONDA_BRIDGE_DEBUG", "").strip().lower() not in (
        "",
        "0",
        "false",
        "no",
        "off",
    ):
        _acb_sys.stderr.write("arcgis_conda_bridge: not run: %r\n" % (_acb_err,))
finally:
    _acb_sys.dont_write_bytecode = _acb_dont_write
