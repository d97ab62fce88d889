"""One store's names in the Dagster definitions.

The `default` store (a manifest without `stores:`) keeps the names it always had, so its instance
history, schedules and bookmarks still apply; store `acme` prefixes its asset keys (`acme/daily_aov`)
and names its ops, jobs, schedules and sensors `acme__<name>`. An asset's body learns its store from
the key it is materializing (`Scope.of`), since Dagster's resources are the same for every asset.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg

from .db import DEFAULT_STORE

STORE_TAG = "aov/store"  # on every run of a store's jobs: per-store run-queue limits key on it


@dataclass(frozen=True)
class Scope:
    store: str = DEFAULT_STORE

    @property
    def prefix(self) -> list[str]:
        return [] if self.store == DEFAULT_STORE else [self.store]

    def key(self, name: str) -> dg.AssetKey:
        return dg.AssetKey([*self.prefix, name])

    def check(self, key: dg.AssetCheckKey) -> dg.AssetCheckKey:
        """A check key of the default store's names, as this store's."""
        return dg.AssetCheckKey(self.key(key.asset_key.path[-1]), key.name)

    def name(self, name: str) -> str:
        """An op, job, schedule or sensor name."""
        return "__".join([*self.prefix, name])

    @property
    def tags(self) -> dict[str, str]:
        return {STORE_TAG: self.store}

    @classmethod
    def of_key(cls, key: dg.AssetKey) -> Scope:
        return cls(key.path[0]) if len(key.path) > 1 else cls()

    @classmethod
    def of(cls, context: dg.AssetExecutionContext) -> Scope:
        """The store of the asset a step executes (or of the check, when only its check was selected).
        Data-health checks are built per store and know theirs."""
        key = next(iter(context.assets_def.asset_and_check_keys))  # what the step was asked for
        return cls.of_key(key.asset_key if isinstance(key, dg.AssetCheckKey) else key)
