"""Ships the default layer (conf/, classes/, recipes/, lib/, files/) inside the package as ``layerbuild/layer/``.

A checkout is itself the default layer (``layerbuild.engine.config.DEFAULT_LAYER`` finds ``conf/layer.conf``
beside the package); an installed wheel has no checkout around it, so the build copies the layer in.
Editable installs keep reading the checkout and get no copy.
"""

from __future__ import annotations

import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = os.path.dirname(os.path.abspath(__file__))
#: The directories of the default layer, copied as they are (the sample recipes' files/ included).
LAYER_DIRS = ("conf", "classes", "recipes", "lib", "files")
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*~", ".*")


class BuildWithLayer(build_py):
    """``build_py`` that also copies the default layer into ``layerbuild/layer/`` of the build."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = os.path.join(self.build_lib, "layerbuild", "layer")
        shutil.rmtree(target, ignore_errors=True)
        for name in LAYER_DIRS:
            shutil.copytree(os.path.join(ROOT, name), os.path.join(target, name), ignore=IGNORE)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = list(super().get_outputs(include_bytecode))
        if not getattr(self, "editable_mode", False):
            target = os.path.join(self.build_lib, "layerbuild", "layer")
            for top, dirs, files in os.walk(target):
                dirs.sort()
                outputs.extend(os.path.join(top, name) for name in sorted(files))
        return outputs


setup(cmdclass={"build_py": BuildWithLayer})
