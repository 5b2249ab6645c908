"""Turn settings into the chain client and anchoring policy (one place for the defaults)."""

import logging
from collections.abc import Callable
from datetime import timedelta

from app.core.settings import Settings
from app.ledger.anchor import AnchorPolicy
from app.ledger.anvil import CHAIN_ID, DEV_PRIVATE_KEY
from app.ledger.chain import ChainClient, ChainConfig

logger = logging.getLogger(__name__)


def embedded_chain(settings: Settings) -> bool:
    return settings.chain_rpc_url is None


def expected_chain_id(settings: Settings) -> int | None:
    """The configured chain id (the embedded Anvil's when the chain is embedded); None: the
    node's, whatever it reports."""
    return settings.chain_id or (CHAIN_ID if embedded_chain(settings) else None)


def chain_config(settings: Settings) -> ChainConfig | None:
    """None when anchoring is off or cannot be configured (with the reason logged)."""
    if not settings.anchoring_enabled:
        return None
    embedded = embedded_chain(settings)
    key = settings.anchor_private_key.get_secret_value() if settings.anchor_private_key else None
    if key is None and not embedded:
        logger.error(
            "anchoring disabled: GBT_CHAIN_RPC_URL is set but GBT_ANCHOR_PRIVATE_KEY is not"
        )
        return None
    return ChainConfig(
        rpc_url=settings.chain_rpc_url or f"http://127.0.0.1:{settings.chain_embedded_port}",
        expected_chain_id=expected_chain_id(settings),
        private_key=key or DEV_PRIVATE_KEY,
        gas_price_wei=settings.chain_gas_price_wei,
        gas_limit=None,
        confirmations=settings.anchor_confirmations,
        timeout_s=settings.chain_timeout_s,
    )


def anchor_policy(settings: Settings) -> AnchorPolicy:
    return AnchorPolicy(
        interval=timedelta(seconds=settings.anchor_interval_s),
        configured_address=settings.registry_address,
        deploy_if_missing=settings.registry_address is None,
        receipt_wait_s=settings.chain_timeout_s,
    )


def client_factory(config: ChainConfig) -> Callable[[], ChainClient]:
    return lambda: ChainClient(config)
