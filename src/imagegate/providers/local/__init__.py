"""The ``local`` provider: open-weights models run by diffusers on this machine (``pip install 'imagegate[local]'``)."""

from imagegate.providers.local.config import LocalConfig, LocalModelConfig, parse_local_config
from imagegate.providers.local.provider import LocalProvider, build_local

__all__ = ["LocalConfig", "LocalModelConfig", "LocalProvider", "build_local", "parse_local_config"]
