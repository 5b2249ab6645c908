"""The one settings object of the service, read from ``GBT_*`` environment variables."""

from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.core.schemas import Rfc3339Time


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GBT_", env_file=None, extra="ignore")

    database_url: str = Field(
        default="sqlite:///./var/gbt.sqlite3",
        description="SQLAlchemy URL. SQLite file (embedded default) or "
        "postgresql+psycopg://user@host:5432/db (production).",
    )
    data_dir: Path = Field(
        default=Path("./var"),
        description="Directory for local state: the SQLite file, the generated admin token.",
    )
    admin_token: SecretStr | None = Field(
        default=None,
        description="Bearer token of the admin API. When unset, a random token is generated "
        "on first start and kept in <data_dir>/admin-token (file mode 0600).",
    )
    ingest_max_batch_readings: int = Field(
        default=5000, ge=1, description="Largest batch a meter may post (413 above)."
    )
    ingest_max_body_bytes: int = Field(
        default=2_000_000, ge=1024, description="Largest request body accepted (413 above)."
    )
    import_max_body_bytes: int = Field(
        default=32_000_000,
        ge=1024,
        description="Largest historical import file (POST /v1/admin/meters/{id}/imports; 413 "
        "above): a year of half-hourly Green Button XML is about 3.5 MB.",
    )
    ingest_max_clock_skew_s: int = Field(
        default=300,
        ge=0,
        description="A reading whose interval starts more than this many seconds in the "
        "future is rejected (422).",
    )
    ingest_earliest_reading: Rfc3339Time = Field(
        default=datetime(2000, 1, 1, tzinfo=UTC),
        description="RFC 3339. Readings of a meter registered without `installed_at` whose "
        "interval starts before this are rejected (422); no meter's `installed_at` and no date "
        "of a benchmark configuration may be earlier either.",
    )
    db_pool_size: int = Field(default=10, ge=1, description="Connections per API process.")
    impact_grace_period_s: int = Field(
        default=172_800,
        ge=0,
        description="Late data allowance: a day's (or month's) result becomes final this long "
        "after the period ends; until then it is provisional and may be replaced.",
    )
    impact_job_interval_s: float = Field(
        default=2.0, gt=0, description="How often the impact job folds new readings in."
    )
    sequencer_interval_s: float = Field(
        default=1.0,
        gt=0,
        description="How often accepted readings and records are sequenced into the log; a "
        "reading is a leaf at most about this long (plus the run time) after it was accepted.",
    )
    anchoring_enabled: bool = Field(
        default=True, description="Write checkpoints of the log to the registry contract."
    )
    chain_rpc_url: str | None = Field(
        default=None,
        description="JSON-RPC endpoint of the EVM chain. Unset: `gbt-server` starts its own "
        "Anvil node (state under <data_dir>/anvil-state.json) on `GBT_CHAIN_EMBEDDED_PORT`.",
    )
    chain_embedded_port: int = Field(default=8545, description="Port of the embedded Anvil.")
    chain_id: int | None = Field(
        default=None,
        description="Expected chain id; anchoring refuses a node that reports another. "
        "Embedded Anvil: 31337.",
    )
    anchor_private_key: SecretStr | None = Field(
        default=None,
        description="Private key of the anchoring account (holds ANCHOR_ROLE). Required with "
        "`GBT_CHAIN_RPC_URL`; with the embedded Anvil, Anvil's public development key is used.",
    )
    issuer_key_file: Path | None = Field(
        default=None,
        description="PEM file of the issuer's RSA private key (2048+ bits; unencrypted, "
        "readable by the service only) that opens holders' personal information for the "
        "bondholder register. Never in the repository; its public key is registered through "
        "`PUT /v1/admin/issuer-key`. Unset: the register cannot be decrypted.",
    )
    registry_address: str | None = Field(
        default=None,
        description="Address of the ImpactRegistry contract. Unset: deployed on first start "
        "and remembered in the database (per chain id).",
    )
    anchor_interval_s: float = Field(
        default=60.0, gt=0, description="At most one checkpoint per this many seconds."
    )
    anchor_confirmations: int = Field(
        default=1, ge=1, description="Blocks (including its own) before a checkpoint is confirmed."
    )
    chain_gas_price_wei: int | None = Field(
        default=None,
        ge=0,
        description="Fixed gas price for a chain with a fixed price (e.g. 0 on a QBFT "
        "consortium chain); unset: the node's eth_gasPrice.",
    )
    chain_timeout_s: float = Field(
        default=30.0, gt=0, description="RPC timeout and how long a run waits for a receipt."
    )
    indexer_interval_s: float = Field(
        default=5.0,
        gt=0,
        description="How often the bond token indexer reads each token's new events into "
        "the holders' positions (runs only with the chain on: `GBT_ANCHORING_ENABLED`).",
    )
    indexer_confirmations: int = Field(
        default=2,
        ge=0,
        description="Blocks mined on top of a block before the indexer counts it; a reorg "
        "deeper than that is detected and rewound. 0 suits a chain with immediate finality "
        "(QBFT, as ibet for Fin).",
    )
    indexer_block_range: int = Field(
        default=1000,
        ge=1,
        description="Most blocks the indexer reads (one eth_getLogs) and stores in one "
        "database transaction.",
    )
    web_chain_rpc_url: str | None = Field(
        default=None,
        description="Public JSON-RPC endpoint the dashboard's browser reads the registry "
        "contract from to check a proof's root. Unset: the embedded Anvil's URL when the chain "
        "is embedded, otherwise none (the viewer enters one); `GBT_CHAIN_RPC_URL` is never "
        "shown to browsers.",
    )
    scheduler_enabled: bool = Field(
        default=True,
        description="Run the scheduled jobs in this process (API replicas may "
        "all run them: a database lock lets one work at a time).",
    )
    investor_access: Literal["public", "api_key"] = Field(
        default="public",
        description="Investor read API: open to anyone, or only with one of "
        "`GBT_INVESTOR_API_KEYS` (never the admin token).",
    )
    investor_api_keys: SecretStr | None = Field(
        default=None,
        description="Comma-separated read-only investor keys (at least 16 characters each), "
        "sent as `Authorization: Bearer <key>` or `X-API-Key`.",
    )
    auditor_api_keys: SecretStr | None = Field(
        default=None,
        description="Comma-separated auditor keys for the audit API (16+ characters each). "
        "Unset: one is generated on first start into <data_dir>/auditor-key.",
    )
    verifier_api_keys: SecretStr | None = Field(
        default=None,
        description="Comma-separated `name:key` pairs of the verification bodies that sign off "
        "carbon credit monitoring reports (key 16+ characters; the name is logged with each "
        "decision). Unset: a development verifier `dev-verifier` whose key is generated on "
        "first start into <data_dir>/verifier-key.",
    )
    public_url: str | None = Field(
        default=None,
        description="The service's public origin (https://impact.example.com): investors' "
        "Sign-In with Ethereum messages must name its host as their domain and a URI on it. "
        "Unset: the request's Host header and scheme (development only: set it in production).",
    )
    investor_session_secret: SecretStr | None = Field(
        default=None,
        description="HMAC key of investors' sign-in tokens (32+ characters; the same in every "
        "API process). Unset: one is generated on first start into "
        "<data_dir>/investor-session-secret.",
    )
    investor_session_ttl_s: int = Field(
        default=900,
        ge=60,
        le=86_400,
        description="Lifetime of an investor's sign-in token (never past the signed message's "
        "Expiration Time).",
    )
    mqtt_url: SecretStr | None = Field(
        default=None,
        description="MQTT broker the service takes gateways' signed batches from "
        "(`mqtt://host:1883`, or `mqtts://host:8883` for TLS; user and password may be given "
        "as `mqtt://user:password@host`). Unset: no MQTT ingestion.",
    )
    mqtt_ca_file: Path | None = Field(
        default=None,
        description="PEM file of the CA that signed the broker's certificate (`mqtts`); "
        "unset: the system's trusted CAs.",
    )
    mqtt_username: str | None = Field(
        default=None, description="Broker user name (instead of the URL's)."
    )
    mqtt_password: SecretStr | None = Field(
        default=None, description="Broker password (instead of the URL's)."
    )
    mqtt_client_id: str | None = Field(
        default=None,
        description="The subscriber's MQTT client id: its persistent session with the broker. "
        "Each replica needs its own, the same across its restarts. Unset: `gbt-<host name>`.",
    )
    mqtt_share_group: str = Field(
        default="gbt",
        pattern=r"^[A-Za-z0-9_-]+$",
        description="Shared subscription group: every replica in it takes a share of the "
        "batches, each batch goes to one.",
    )
    mqtt_topic_prefix: str = Field(
        default="gbt/v1",
        pattern=r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$",
        description="Topic levels before `meters/{meter_id}/readings` and `.../acks`: "
        "deployments sharing one broker each need their own.",
    )
    mqtt_session_expiry_s: int = Field(
        default=3600,
        ge=60,
        description="How long the broker keeps the subscriber's session (its subscription "
        "and unacknowledged batches) while it is disconnected.",
    )
    host: str = Field(default="127.0.0.1", description="Address the server binds to.")
    port: int = Field(default=8000, description="Port the server binds to.")
    workers: int = Field(
        default=1, ge=1, description="API worker processes of `gbt-server` (PostgreSQL only)."
    )


@lru_cache
def get_settings() -> Settings:
    return Settings()
