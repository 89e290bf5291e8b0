"""Time and peak memory of refusing a real 20000 x 20000 PNG (made by tests/hostile_files.huge_png):

    PYTHONPATH=tests python -m benchmarks.reliability.bench_size_guard /tmp/huge.png
"""

import resource
import sys
import time
from pathlib import Path
from hostile_files import huge_png
from derain_cli.errors import DerainError
from derain_cli.imageio import read_image
path = huge_png(Path(sys.argv[1]))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
try:
    read_image(path)
    outcome = "read"
except DerainError as exc:
    outcome = f"DerainError: {exc}"
except Exception as exc:
    outcome = f"{type(exc).__name__}: {str(exc)[:80]}"
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(f"{seconds:.3f} s, peak RSS +{(peak - before) / 1024:.0f} MB: {outcome}")
