"""Load the model catalog from YAML data files and resolve model names.

The packaged files (``catalog/data/*.yaml``) are read first, then any extra directories (or files) in the
order given. Later files may only *add* models: a model id or alias that is already taken by another model
is an error naming both files. Invalid files are refused with the file and the field path named.

Nothing is cached at module level; the ``Catalog`` object holds its own index.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from imagegate.catalog.schema import (
    CatalogFile,
    ModelRecord,
    Offer,
    OfferCapabilities,
    PriceComponent,
    Pricing,
)
from imagegate.core.errors import InvalidRequest, ModelNotFound
from imagegate.core.types import RESOLUTIONS

PACKAGED_DIR = Path(__file__).parent / "data"
PLACEHOLDER = "placeholder"
PLACEHOLDER_SOURCE_URL = "https://github.com/imagegate/imagegate"

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class CatalogError(ValueError):
    """An invalid or inconsistent catalog file. The message names the file and the field path."""


def load_catalog(extra_dirs: Iterable[Path | str] = ()) -> Catalog:
    """Load the packaged catalog plus ``extra_dirs`` (directories of ``*.yaml``/``*.yml``, or single files)."""
    models: list[ModelRecord] = []
    sources: list[str] = []
    for path in _catalog_files(extra_dirs):
        for model in _load_file(path).models:
            models.append(model)
            sources.append(str(path))
    return Catalog(models, sources)


def _catalog_files(extra_dirs: Iterable[Path | str]) -> list[Path]:
    files = sorted(PACKAGED_DIR.glob("*.yaml"))
    for entry in extra_dirs:
        path = Path(entry)
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file()))
        else:
            raise CatalogError(f"{path}: catalog directory not found")
    return files


def _load_file(path: Path) -> CatalogFile:
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.load(fh, Loader=_Loader)
    except OSError as exc:
        raise CatalogError(f"{path}: cannot read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise CatalogError(f"{path}: {problem}{where}") from None
    try:
        return CatalogFile.model_validate(data)
    except ValidationError as exc:
        raise CatalogError(f"{path}: " + "; ".join(_describe(err) for err in exc.errors())) from None


def _describe(err: Any) -> str:
    """``models[0].offers[2].pricing.components[1].unit_price: Input should be ...``"""
    path = ""
    for part in err.get("loc", ()):
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return f"{path or '(root)'}: {err.get('msg', 'invalid')}"


class Catalog:
    """The loaded models with a case-insensitive index of ids and aliases."""

    def __init__(self, models: Sequence[ModelRecord], sources: Sequence[str] | None = None) -> None:
        self._models = list(models)
        self._index: dict[str, ModelRecord] = {}
        self._placeholders: dict[str, Offer] = {}
        where = list(sources) if sources is not None else ["<memory>"] * len(self._models)
        owner: dict[str, int] = {}  # lower-cased name -> position of the model that holds it
        for pos, model in enumerate(self._models):
            _check_offers(model, where[pos])
            for name in dict.fromkeys(n.lower() for n in (model.id, *model.aliases)):
                if name in owner:
                    other = self._models[owner[name]]
                    field = "id" if name == model.id.lower() else "alias"
                    raise CatalogError(
                        f"{where[pos]}: model '{model.id}': {field} '{name}' is already used by model "
                        f"'{other.id}' in {where[owner[name]]}"
                    )
                owner[name] = pos
                self._index[name] = model
        self._shared: dict[str, list[ModelRecord]] = {}  # shared alias -> the models that claim it
        for model in self._models:
            for name in dict.fromkeys(n.lower() for n in model.shared_aliases):
                if name in self._index:
                    raise CatalogError(
                        f"{where[self._models.index(model)]}: model '{model.id}': shared alias '{name}' is already "
                        f"the id or alias of model '{self._index[name].id}'"
                    )
                self._shared.setdefault(name, []).append(model)

    def __len__(self) -> int:
        return len(self._models)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._index

    def models(self) -> list[ModelRecord]:
        return list(self._models)

    def get(self, name: str) -> ModelRecord | None:
        """The model with this id or alias (case-insensitive), or a shared alias only one model claims; or None."""
        key = name.lower()
        model = self._index.get(key)
        if model is None:
            shared = self._shared.get(key)
            if shared is not None and len(shared) == 1:
                return shared[0]
        return model

    def candidates(self, name: str) -> list[ModelRecord]:
        """The models that claim ``name`` as a shared alias (more than one: the name is ambiguous)."""
        return list(self._shared.get(name.lower(), ()))

    def resolve(self, name: str) -> tuple[ModelRecord, str | None]:
        """Resolve a client's model name to ``(model, forced provider or None)``.

        Accepts an id or alias, or ``provider/name`` where provider is one of the model's offers' providers
        (or ``placeholder``). An exact id wins over the prefix reading, so ids containing a slash resolve.
        """
        model = self.get(name)
        if model is not None:
            return model, None
        prefix, sep, rest = name.partition("/")
        if sep:
            model = self.get(rest)
            provider = prefix.lower()
            if model is not None and (provider == PLACEHOLDER or model.offer(provider) is not None):
                return model, provider
        shared = self.candidates(name)
        if len(shared) > 1:
            names = ", ".join(f"'{m.id}'" for m in shared)
            raise InvalidRequest(
                f"Model '{name}' is ambiguous: it can mean {names}. Send one of these ids.",
                param="model",
                code="AMBIGUOUS_MODEL",
            )
        raise ModelNotFound(name)

    def placeholder_offer(self, model: ModelRecord) -> Offer:
        """A zero-price offer for the offline ``placeholder`` provider that can do whatever any real offer can."""
        offer = self._placeholders.get(model.id)
        if offer is None:
            offer = self._placeholders[model.id] = build_placeholder_offer(model)
        return offer


def build_placeholder_offer(model: ModelRecord) -> Offer:
    caps = [o.capabilities for o in model.offers]
    effective = max((o.pricing.effective_at for o in model.offers), default=model.released or dt.date(2025, 1, 1))
    union = OfferCapabilities(
        max_input_images=max((c.max_input_images for c in caps), default=0),
        resolutions=_sorted_resolutions(_union(c.resolutions for c in caps)) or ("1K",),
        aspect_ratios=_union(c.aspect_ratios for c in caps) or ("1:1",),
        output_formats=_union(c.output_formats for c in caps) or ("png",),
        max_n=max((c.max_n for c in caps), default=1),
        supports_edit=any(c.supports_edit for c in caps) or "image-editing" in model.tasks,
        supports_mask=any(c.supports_mask for c in caps),
        sizes=_union(c.sizes for c in caps),
    )
    return Offer(
        provider=PLACEHOLDER,
        provider_name="Placeholder (offline)",
        provider_model_id=model.id,
        config_key=f"{PLACEHOLDER}/{model.id}",
        pricing=Pricing(
            components=(PriceComponent(type="output", metric="image", unit_price=0),),
            notes=("Generated offline by imagegate; free.",),
            source="imagegate",
            source_url=PLACEHOLDER_SOURCE_URL,
            effective_at=effective,
        ),
        capabilities=union,
    )


def _union(groups: Iterable[tuple[str, ...]]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(item for group in groups for item in group))


def _sorted_resolutions(values: tuple[str, ...]) -> tuple[str, ...]:
    order = {r: i for i, r in enumerate(RESOLUTIONS)}
    return tuple(sorted(values, key=lambda r: order.get(r, len(order))))


def _check_offers(model: ModelRecord, where: str) -> None:
    """One offer per provider: ``provider/model`` forcing and ``ModelRecord.offer`` rely on it."""
    seen: set[str] = set()
    for i, offer in enumerate(model.offers):
        if offer.provider == PLACEHOLDER:
            raise CatalogError(f"{where}: model '{model.id}': offers[{i}].provider: '{PLACEHOLDER}' is reserved")
        if offer.provider in seen:
            raise CatalogError(
                f"{where}: model '{model.id}': offers[{i}].provider: a second offer from '{offer.provider}'"
            )
        seen.add(offer.provider)
