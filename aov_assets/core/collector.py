"""The garbage collector, told what a data process looks like: most objects either live as long as the
process (Dagster's definitions, the modules of Dagster, pandas and Arrow) or die young with their
frame, and very few form cycles.

With Python's defaults the collector walked the long-lived ones again at every full collection: GC
took about 10% of the demo (py-spy; `gc.callbacks` counted 4.7 s of 47 s, 25 full collections) and,
at 100 stores, 2-3 s of `dg check defs` (its last collections run at exit). Only the process's entry
points call this (`aov`, and `defs` where Dagster loads the code); a library caller keeps its own
settings.
"""

import gc

# Allocations between two young collections (Python's default is 700): pandas and Arrow allocate in
# bulk, and each young collection promotes survivors toward the full collections.
YOUNG_COLLECTION_EVERY = 10_000


def settle_long_lived() -> None:
    """Everything alive now leaves the collector's generations for good (`gc.freeze`: it is not walked
    again and never freed, as objects that live until exit), and young collections run less often."""
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_EVERY, middle, old)
