"""`inpaintbench list KIND`: every registered plug-in with a line of description, without importing lazy ones."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from inpaintbench.cli import main
from inpaintbench.list_cli import KINDS, describe, lazy_description


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_plugin_of_a_kind_is_listed_with_a_description(kind, capsys):
    assert main(["list", kind]) == 0
    out = capsys.readouterr().out.splitlines()
    registry = KINDS[kind][1]()
    listed = [line.split()[0] for line in out[1:]]
    assert listed == registry.known()
    # Each one says what it is: a newcomer choosing a backend or detector reads this line, not the source.
    for name, _, line in describe(registry):
        assert len(line) > 20, f"{kind} {name!r} has no description"


def test_listing_lazy_backends_imports_none_of_them():
    """Lazy plug-ins are described from their source: a listing never imports diffusers-backed modules. The same
    probe after creating one shows the check can see an import."""
    probe = (
        "import json, sys\n"
        "from inpaintbench.cli import main\n"
        "main(['list', 'backends'])\n"
        "before = sorted(m for m in sys.modules if m.startswith('inpaintbench.builder.backends.'))\n"
        "from inpaintbench.builder.backends import BACKENDS\n"
        "BACKENDS.get_class('sd_inpaint')\n"
        "after = sorted(m for m in sys.modules if m.startswith('inpaintbench.builder.backends.'))\n"
        "print(json.dumps([before, after]))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    before, after = json.loads(done.stdout.splitlines()[-1])
    lazy = {
        "inpaintbench.builder.backends.sd",
        "inpaintbench.builder.backends.flux",
        "inpaintbench.builder.backends.learned",
    }
    assert not lazy & set(before), before
    assert "inpaintbench.builder.backends.sd" in after  # the attack: asking for the class does import it


def test_a_lazy_description_comes_from_the_registered_class_or_its_module(tmp_path, monkeypatch):
    package = tmp_path / "listprobe"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "documented.py").write_text(
        '"""Module text. Second sentence."""\n'
        "@REG.register('other')\nclass Other:\n    '''Not this one.'''\n"
        "@register_backend('mine')\nclass Mine:\n    '''A class line, e.g. ``x``. Then more.\n\n    Body.'''\n"
        "@register_backend('bare')\nclass Bare:\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert lazy_description("listprobe.documented", "mine") == "A class line, e.g. ``x``"
    assert lazy_description("listprobe.documented", "bare") == "Module text"
    assert lazy_description("listprobe.documented", "absent") == ""
    assert "not found" in lazy_description("listprobe.nowhere", "mine")


def test_an_unknown_kind_is_bad_input_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["list", "models"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'models'" in capsys.readouterr().err
