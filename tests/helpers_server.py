"""The contract tests' gateway process (see ``imagegate.testing.server``)."""

from imagegate.testing.server import GatewayProcess as ServerProcess
from imagegate.testing.server import free_port

__all__ = ["ServerProcess", "free_port"]
