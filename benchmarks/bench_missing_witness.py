"""Benchmark: what checking each missing public file against the site itself costs a receive.

    python3 benchmarks/bench_missing_witness.py [--files 400] [--missing 200] [--repeat 5]

A public set of ``--files`` files is published (the tests' fixture plugin, in ``benchmarks/.data/witness/``)
and ``--missing`` of them are removed from the site, which then answers 404 for them; each run receives the
session afresh from a Python static server on 127.0.0.1 (HTTP/1.0), with the check of
:mod:`synco_core.receive.interception` and with it turned off, in turns. Printed: the CPU seconds of the
process (receive and server together; median of ``--repeat``), the requests for the meta and in all.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from common import DATA_DIR  # noqa: E402
from test_transfer_support import FixturePlugin, make_app, publish, static_server  # noqa: E402

from synco_core.plugins import build_plugin_manager, set_plugin_manager  # noqa: E402
from synco_core.receive import HttpTransport, ReceiveOptions, interception, receive_session  # noqa: E402

SESSION = "synco-benchwitness00000001"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=400)
    parser.add_argument("--missing", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    manager = build_plugin_manager(load_entrypoints=False)
    manager.register(FixturePlugin(), "fixture")
    set_plugin_manager(manager)
    root = DATA_DIR / "witness"
    shutil.rmtree(root, ignore_errors=True)
    app = make_app(root / "app", files=args.files)
    key = publish(app, SESSION, only=("uploads",), packs=False)
    for path in sorted((app / "web" / "uploads").rglob("*.bin"))[:args.missing]:
        path.unlink()
    checked = interception.SiteWitness.confirm

    def unchecked(_self: interception.SiteWitness, _judged: float, within: float = 0) -> None:
        return None

    runs: dict[str, list[tuple[float, int, int]]] = {"checked": [], "unchecked": []}
    try:
        for turn in range(args.repeat):
            for case in runs:
                interception.SiteWitness.confirm = checked if case == "checked" else unchecked  # type: ignore[method-assign]
                target = root / f"{case}-{turn}"
                with static_server(app / "web") as (url, behaviour):
                    start = time.process_time()
                    receive_session(HttpTransport(url), SESSION, key.secret, ReceiveOptions(target=target))
                    cpu = time.process_time() - start
                    metas = sum(count for path, count in behaviour.requests.items() if path.endswith("meta.json.enc"))
                    runs[case].append((cpu, metas, sum(behaviour.requests.values())))
                shutil.rmtree(target)
    finally:
        interception.SiteWitness.confirm = checked  # type: ignore[method-assign]
        shutil.rmtree(root, ignore_errors=True)
    for case, results in runs.items():
        print(f"{case}: CPU s median {statistics.median(r[0] for r in results):.3f}, meta requests "
              f"{[r[1] for r in results]}, requests {[r[2] for r in results]}")


if __name__ == "__main__":
    main()
