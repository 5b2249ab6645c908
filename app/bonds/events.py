"""The GreenBondToken events that move holdings, and which accounts a raw log of one touches.

Every change to an account's ``holdingOf`` (free, locked or pending units) emits one of these
events naming the account, so re-reading the accounts they name is enough to keep every
position exact. Accounts are decoded straight from the raw log (an indexed address from its
topic, another from its word in the data's head), which is many times faster than a full ABI
decoding of each log and needs nothing else of the event.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from eth_typing import ChecksumAddress
from web3 import Web3

from app.pure.artifact import GREEN_BOND_TOKEN

# The address parameters whose holdings each event changes. ApplyForTransfer moves units from
# the applicant's balance to its pending amount (the recipient gets them only on approval);
# ChangeToRedeemed moves nothing but is read too, so a redemption's block is on record.
TOUCHED: Mapping[str, tuple[str, ...]] = {
    "Transfer": ("from", "to"),
    "Issue": ("target",),
    "Redeem": ("target",),
    "Lock": ("account",),
    "ForceLock": ("account",),
    "Unlock": ("account", "recipient"),
    "ForceUnlock": ("account", "recipient"),
    "ApplyForTransfer": ("from",),
    "ApproveTransfer": ("from", "to"),
    "CancelTransfer": ("from",),
    "ChangeToRedeemed": (),
}


@dataclass(frozen=True)
class _Decoder:
    """Where an event's touched addresses are: topic indexes and data head word indexes."""

    name: str
    topics: tuple[int, ...]
    words: tuple[int, ...]


def _decoders() -> dict[str, _Decoder]:
    found: dict[str, _Decoder] = {}
    for entry in GREEN_BOND_TOKEN.abi:
        if entry["type"] != "event" or entry["name"] not in TOUCHED:
            continue
        inputs = entry["inputs"]
        signature = f"{entry['name']}({','.join(i['type'] for i in inputs)})"
        topics: list[int] = []
        words: list[int] = []
        topic, word = 1, 0
        for param in inputs:
            if param["name"] in TOUCHED[entry["name"]]:
                assert param["type"] == "address", signature
                (topics if param["indexed"] else words).append(topic if param["indexed"] else word)
            if param["indexed"]:
                topic += 1
            else:
                word += 1  # a dynamic parameter (string) takes one head word: its offset
        found["0x" + Web3.keccak(text=signature).hex().removeprefix("0x")] = _Decoder(
            entry["name"], tuple(topics), tuple(words)
        )
    missing = set(TOUCHED) - {d.name for d in found.values()}
    assert not missing, f"GreenBondToken's ABI lacks {missing}"
    return found


_BY_TOPIC = _decoders()
# topic0 of every event the indexer reads (one eth_getLogs filter: any of them).
TOPICS: tuple[str, ...] = tuple(_BY_TOPIC)


def touched_accounts(topics: list[str], data: str) -> tuple[ChecksumAddress, ...]:
    """The accounts whose holdings the log (hex topics and data, as eth_getLogs gives them)
    changed; none for a log that is not one of TOPICS."""
    decoder = _BY_TOPIC.get(topics[0].lower()) if topics else None
    if decoder is None:
        return ()
    hexdata = data.removeprefix("0x")
    raw = [topics[i][-40:] for i in decoder.topics]
    raw += [hexdata[64 * w + 24 : 64 * (w + 1)] for w in decoder.words]
    return tuple(_checksummed(a.lower()) for a in raw)


@lru_cache(maxsize=1 << 16)
def _checksummed(hex40: str) -> ChecksumAddress:
    """EIP-55 costs a keccak per address; holders come back in event after event."""
    return Web3.to_checksum_address("0x" + hex40)
