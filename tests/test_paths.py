"""One place for the repository's folder paths (oasis_lab.paths): no other module computes one."""

from __future__ import annotations

import re

from oasis_lab import paths


def test_the_folders_exist_where_paths_says():
    for folder in (paths.DATA_DIR, paths.MODELS_DIR, paths.PROFILE_DIR, paths.CONFIG_DIR,
                   paths.KERNELS_DIR, paths.NOTEBOOK_DIR):
        assert folder.is_dir(), folder
    assert (paths.ROOT / "oasis_lab" / "paths.py").is_file()
    assert any(paths.KERNELS_DIR.glob("*.wgsl")) and any(paths.MODELS_DIR.glob("*.npz"))


def test_no_other_module_computes_a_folder_from_its_own_location():
    pattern = re.compile(r"Path\(__file__\)|os\.path\.dirname\(__file__\)|parents?\[\d\]")
    offenders = [str(p.relative_to(paths.ROOT)) for p in (paths.ROOT / "oasis_lab").rglob("*.py")
                 if p.name != "paths.py" and pattern.search(p.read_text())]
    assert offenders == []
