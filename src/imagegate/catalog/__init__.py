"""The model catalog: model and offer records loaded from ``catalog/data/*.yaml``, aliases, capabilities."""

from imagegate.catalog.loader import Catalog, CatalogError, load_catalog
from imagegate.catalog.schema import ModelRecord, Offer

__all__ = ["Catalog", "CatalogError", "ModelRecord", "Offer", "load_catalog"]
