"""Build the adapters that settings make active, and say why each is on or off."""

from __future__ import annotations

from imagegate.providers.base import Provider
from imagegate.settings import Settings


def _adapter(name: str, settings: Settings) -> Provider:
    ps = settings.providers[name]
    if name == "gemini":
        from imagegate.providers.gemini import GeminiProvider

        return GeminiProvider(ps)
    if name == "vertex":
        from imagegate.extras import require

        require("google.oauth2.service_account", "vertex", "The Vertex AI provider")
        from imagegate.providers.vertex import VertexProvider

        return VertexProvider(ps)
    if name == "replicate":
        from imagegate.providers.replicate import ReplicateProvider

        return ReplicateProvider(ps)
    if name == "fal":
        from imagegate.providers.fal import FalProvider

        return FalProvider(ps)
    if name == "openai":
        from imagegate.providers.openai import OpenAIProvider

        return OpenAIProvider(ps)
    raise ValueError(f"unknown provider {name!r}")


def _local(settings: Settings) -> tuple[Provider | None, list[str]]:
    """The ``local`` provider when pipelines are configured and the extra is installed (else why not)."""
    if not settings.local:
        return None, []
    from imagegate.providers.local import build_local, parse_local_config

    return build_local(parse_local_config(settings.local))


def build_providers(settings: Settings) -> tuple[dict[str, Provider], list[str]]:
    """Return the active adapters and one human-readable line per provider (for the start banner)."""
    from imagegate.providers.placeholder import PlaceholderProvider
    from imagegate.settings import PROVIDER_ENV

    providers: dict[str, Provider] = {}
    lines: list[str] = []
    for name, ps in settings.providers.items():
        key_var, url_var = PROVIDER_ENV.get(name, ("", ""))
        if ps.active:
            providers[name] = _adapter(name, settings)
            where = ps.base_url or "default endpoint"
            lines.append(f"  {name:<11} active    ({key_var} set; {where})")
        elif not ps.enabled:
            lines.append(f"  {name:<11} inactive  (disabled in config)")
        else:
            lines.append(f"  {name:<11} inactive  ({key_var} not set)")
    local, local_lines = _local(settings)
    lines.extend(local_lines)
    if local is not None:
        providers["local"] = local
    mode = settings.placeholder
    if mode == "on" or (mode == "auto" and not providers):
        providers["placeholder"] = PlaceholderProvider()
        why = "enabled in config" if mode == "on" else "no provider credentials are configured"
        lines.append(f"  placeholder active    (offline placeholder images: {why})")
    else:
        why = "disabled in config" if mode == "off" else "real providers are configured"
        lines.append(f"  placeholder inactive  ({why})")
    return providers, lines
