"""Shim for tools that predate PEP 517 (Debian 12's pybuild distutils plugin); metadata is in pyproject.toml."""
from setuptools import setup

setup()
