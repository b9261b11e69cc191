"""The sub-commands defined outside ``app.py``, each imported only when it is chosen.

``eval`` and ``bench`` pull in torch, transformers or matplotlib; importing them to build the
parser would make ``rain-guard --help`` (and ``generate``) wait for all of that. So the table
below names each sub-command's module, and the parser imports that module, and calls its
``register(parser)``, when the sub-command's name is parsed. A module that fails to import
fails the command with its ``ImportError``: a sub-command never vanishes from the list.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence
from typing import Any

# name -> (module with ``register(parser)``, one line for ``rain-guard --help``)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "eval": ("rain_guard.eval.cli", "run, report and judge-check harmlessness benchmarks"),
    "bench": ("rain_guard.bench.cli", "what RAIN costs against vanilla and the reference's way"),
    "bench-merge": ("rain_guard.bench.merge", "merge bench reports of one run's shards"),
}


class LazySubparsers(argparse._SubParsersAction):
    """Sub-parsers of which some get their options from a module, imported once chosen."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pending: dict[str, tuple[str, argparse.ArgumentParser]] = {}

    def add_lazy(self, name: str, module: str, summary: str) -> None:
        """Add sub-command ``name``, whose options ``module.register`` adds when it is chosen."""
        self.pending[name] = (module, self.add_parser(name, help=summary, description=summary))

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Sequence[Any] | str | None,
        option_string: str | None = None,
    ) -> None:
        name = values[0] if isinstance(values, Sequence) and values else None
        if name in self.pending:
            module, sub = self.pending.pop(name)
            try:
                register = importlib.import_module(module).register
            except ImportError as error:
                error.add_note(f"rain-guard: the {name!r} sub-command's module {module} is broken")
                raise
            register(sub)
        super().__call__(parser, namespace, values, option_string)


def add_lazy_subcommands(sub: LazySubparsers) -> None:
    """Add every sub-command of ``SUBCOMMANDS`` to ``sub``, its options to come when chosen."""
    for name, (module, summary) in SUBCOMMANDS.items():
        sub.add_lazy(name, module, summary)
