"""Package layout shim.

builder/, harness/ and space/ sit at the repository root (the project's documented layout) but install as
subpackages of one import package, ``inpaintbench``, so ``import inpaintbench.builder`` works the same from an
editable install, a wheel, or a Hugging Face Space. pyproject.toml holds everything else.
"""

from setuptools import find_packages, setup

ROOT_SUBPACKAGES = ("builder", "harness", "space")

packages = ["inpaintbench"] + [f"inpaintbench.{p}" for p in find_packages("inpaintbench")]
package_dir = {"inpaintbench": "inpaintbench"}
for sub in ROOT_SUBPACKAGES:
    packages.append(f"inpaintbench.{sub}")
    packages += [f"inpaintbench.{sub}.{p}" for p in find_packages(sub)]
    package_dir[f"inpaintbench.{sub}"] = sub

setup(packages=packages, package_dir=package_dir)
