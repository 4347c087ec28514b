"""twistfm: decode a mystery label with CNNs, encodings, clustering and projections.

The names below are the public API a notebook uses (see :mod:`twistfm.api`). Importing
twistfm is light and changes no global state: the heavy modules load on first use, and
the result types (``Run``, ``Encoding``, ``AnalysisResult``, ``Groups``, ``Explorer``,
``Study``, from :mod:`twistfm.report.notebook`) load when first named.
"""

import sys
import types
from typing import Any

__version__ = "0.2.0"

from .api import Dataset, analyse, encode, load_dataset, open_run, rebuild_report, run_study, train  # noqa: E402

#: Functions named like a submodule (``twistfm/train.py``, ``twistfm/encode.py``).
_SHADOWED = {"train": train, "encode": encode}

_RESULTS = ("Run", "Encoding", "AnalysisResult", "Groups", "Explorer", "Study")

__all__ = ["__version__", "load_dataset", "Dataset", "train", "open_run", "encode", "analyse", "run_study", "rebuild_report",
           *_RESULTS]


class _Package(types.ModuleType):
    """Keeps ``twistfm.train`` and ``twistfm.encode`` the functions when their submodules load.

    Importing a submodule sets the package attribute of its name to the module; here the
    function stays, and the submodule is still imported as usual (``from twistfm.train
    import fit`` reads it from ``sys.modules``).
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _SHADOWED and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str) -> Any:
    if name in _RESULTS:
        from .report import notebook

        return getattr(notebook, name)
    raise AttributeError(f"module 'twistfm' has no attribute {name!r}")
