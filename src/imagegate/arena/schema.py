"""Competitions and categories: the arena's data files (``arena/data/*.yaml``) and the admin API's additions.

A competition is one named prompt in one task (with input images for image editing), tagged with use cases. A
category is a use case within a task ("Photorealism (Image Editing)"); its board holds the battles of every
competition of that task tagged with that use case.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

Task = Literal["text-to-image", "image-editing"]
TASKS: tuple[Task, ...] = ("text-to-image", "image-editing")
TASK_TITLES = {"text-to-image": "Text-to-Image", "image-editing": "Image Editing"}
PACKAGED_DIR = Path(__file__).parent / "data"
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_RESERVED = {"vote", "battles", "competitions", "categories", "leaderboard"}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _check_slug(v: str) -> str:
    if not _SLUG.match(v) or len(v) > 80:
        raise ValueError("a slug is lower-case letters, digits and single hyphens (at most 80 characters)")
    if v in _RESERVED:
        raise ValueError(f"'{v}' is reserved")
    return v


class Competition(_Frozen):
    slug: str
    title: str = Field(min_length=1, max_length=200)
    task: Task
    prompt: str = Field(min_length=1, max_length=4000)
    use_cases: tuple[str, ...] = ()
    # image editing: file names under arena/data/inputs (packaged) or "data:" base64 images (admin API)
    input_images: tuple[str, ...] = ()
    description: str = ""

    @field_validator("slug")
    @classmethod
    def _slug_ok(cls, v: str) -> str:
        return _check_slug(v)

    @field_validator("input_images")
    @classmethod
    def _inputs_only_for_edits(cls, v: tuple[str, ...], info) -> tuple[str, ...]:  # type: ignore[no-untyped-def]
        task = info.data.get("task")
        if task == "image-editing" and not v:
            raise ValueError("an image-editing competition needs at least one input image")
        if task == "text-to-image" and v:
            raise ValueError("a text-to-image competition takes no input images")
        return v


class Category(_Frozen):
    slug: str
    title: str = Field(min_length=1, max_length=200)
    task: Task
    use_case: str = Field(min_length=1, max_length=80)
    description: str = ""

    @field_validator("slug")
    @classmethod
    def _slug_ok(cls, v: str) -> str:
        return _check_slug(v)


class ArenaFile(_Frozen):
    competitions: tuple[Competition, ...] = ()
    categories: tuple[Category, ...] = ()


class ArenaDataError(ValueError):
    """An invalid arena data file; the message names the file and the field."""


def _describe(err: Any) -> str:
    path = ""
    for part in err.get("loc", ()):
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return f"{path or '(root)'}: {err.get('msg', 'invalid')}"


def load_file(path: Path) -> ArenaFile:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ArenaDataError(f"{path}: cannot read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ArenaDataError(f"{path}: invalid YAML ({exc})") from None
    try:
        return ArenaFile.model_validate(data or {})
    except ValidationError as exc:
        raise ArenaDataError(f"{path}: " + "; ".join(_describe(e) for e in exc.errors())) from None


def load_packaged(extra: list[Path] | tuple[Path, ...] = ()) -> tuple[list[Competition], list[Category]]:
    """The packaged data files plus extra files or directories; a slug used twice is an error naming it."""
    files = sorted(PACKAGED_DIR.glob("*.yaml"))
    for entry in extra:
        entry = Path(entry)
        files.extend(sorted(entry.glob("*.yaml")) if entry.is_dir() else [entry])
    competitions: dict[str, Competition] = {}
    categories: dict[str, Category] = {}
    for path in files:
        loaded = load_file(path)
        for c in loaded.competitions:
            if c.slug in competitions:
                raise ArenaDataError(f"{path}: competition '{c.slug}' is defined twice")
            for name in c.input_images:
                if not name.startswith("data:") and not (PACKAGED_DIR / "inputs" / name).is_file():
                    raise ArenaDataError(f"{path}: competition '{c.slug}': input image '{name}' not found")
            competitions[c.slug] = c
        for k in loaded.categories:
            if k.slug in categories:
                raise ArenaDataError(f"{path}: category '{k.slug}' is defined twice")
            categories[k.slug] = k
    return list(competitions.values()), list(categories.values())
