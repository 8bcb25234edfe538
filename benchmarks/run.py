"""Run every benchmark (or the ones named) and print their tables.

    python benchmarks/run.py [NAME ...] [OPTION ...]

``NAME`` is a script's name without ``bench_`` (``age``, ``pull`` ...). Everything from the first argument
that starts with ``-`` on is passed to each script, so ``run.py pull --size full`` runs
``bench_pull.py --size full``; a ``--`` before the options is dropped.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

HERE = Path(__file__).parent


def split_arguments(argv: list[str]) -> tuple[list[str], list[str]]:
    """(benchmark names, the options for each script)."""
    first_option = next((i for i, arg in enumerate(argv) if arg.startswith("-")), len(argv))
    names, options = argv[:first_option], argv[first_option:]
    if options[:1] == ["--"]:
        options = options[1:]
    return names, options


def main(argv: list[str]) -> int:
    names, options = split_arguments(argv)
    names = names or sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))
    # All names are checked first, so a typo does not show up only after the long ones before it have run.
    unknown = [name for name in names if not (HERE / f"bench_{name}.py").exists()]
    if unknown:
        print(f"no benchmark named {', '.join(map(repr, unknown))}", file=sys.stderr)
        return 1
    failed = []
    for name in names:
        script = HERE / f"bench_{name}.py"
        print(f"\n=== {name} ===", flush=True)
        saved = sys.argv
        sys.argv = [str(script), *options]
        try:
            runpy.run_path(str(script), run_name="__main__")
        except SystemExit as exc:
            if exc.code not in (0, None):
                failed.append(name)
        except Exception as exc:  # one failing benchmark should not hide the others' numbers
            print(f"benchmark {name} failed: {exc}", file=sys.stderr)
            failed.append(name)
        finally:
            sys.argv = saved
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
