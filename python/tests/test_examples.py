"""examples/python/: each pattern runs against mp-testserver and checks
its own answer (exit 0)."""
import os
import subprocess
import sys

import pytest

EXAMPLES = os.path.join(os.environ.get("MP_SOURCE_DIR", ""), "examples",
                        "python")


@pytest.mark.parametrize("name,args,says", [
    ("gather.py", ["2000"], "gather: 2000 records, all as expected"),
    ("page_batches.py", ["5000"], "page_batches: 5000 ok, 0 failed"),
    ("aiomp.py", ["500"], "aiomp: 500 bodies, all of the right size"),
    ("crawl.py", ["50", "5"], "crawl: 55 pages from 50 seeds, depth 5: "
                              "each once"),
])
def test_example(server, name, args, says):
    p = subprocess.run([sys.executable, os.path.join(EXAMPLES, name),
                        server.base, *args], capture_output=True, text=True,
                       timeout=240)
    assert p.returncode == 0, p.stdout + p.stderr
    assert says in p.stdout
