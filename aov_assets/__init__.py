"""aov_assets: an early warning, as Dagster assets, when B2B customers of an Adobe Commerce store buy less per order."""

import os

import pyarrow as pa

ARROW_POOL_VARIABLE = "ARROW_DEFAULT_MEMORY_POOL"


def return_arrow_memory_at_once() -> None:
    """Arrow's buffers from jemalloc, handing freed pages back to the OS at once. Arrow's default pool
    (mimalloc) keeps them: a 10M-order run grew from 510 to 825 MB RSS over its first steps with 25-100
    MB of Arrow buffers alive (README, Performance). An explicit $ARROW_DEFAULT_MEMORY_POOL is kept, and
    a pyarrow built without jemalloc keeps its default."""
    if os.environ.get(ARROW_POOL_VARIABLE):
        return
    try:
        pa.set_memory_pool(pa.jemalloc_memory_pool())
        pa.jemalloc_set_decay_ms(0)
    except NotImplementedError:  # pyarrow built without jemalloc
        pass


return_arrow_memory_at_once()
