"""Installs the OpenWrt import guard in every Python process started with this folder on PYTHONPATH
(see openwrt/importguard.py for the environment it reads)."""

import importlib.util
import os

_path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "importguard.py")
_spec = importlib.util.spec_from_file_location("openwrt_importguard", _path)
_guard = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_guard)
_guard.install_from_environment()
