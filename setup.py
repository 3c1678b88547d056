"""Package layout for setuptools (everything else is in pyproject.toml).

The service package is found as usual; the top-level folders maps/ and boundaries/ stay
where they are in the checkout and are installed inside the package as the data packages
``service._data.maps`` and ``service._data.boundaries`` (found by
service.render.catalogue.MAPS_DIR and the ``boundaries_dir`` default).
"""

from setuptools import find_packages, setup

DATA = {"service._data.maps": "maps", "service._data.boundaries": "boundaries"}

setup(
    packages=[*find_packages(include=["service", "service.*"]), *DATA],
    package_dir=DATA,
)
