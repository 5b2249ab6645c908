"""What the routes that sign as the issuer share (the bond token's and the carbon credits'):
the issuer's chain from the app, a sent transaction's answer and its documentation."""

from typing import Annotated, Any

from fastapi import Header, Request, Response

from app.bonds.issuer_txs import IssuerChain, Sent
from app.bonds.schemas import IdempotencyKey, IssuerTxOut
from app.bonds.service import tx_out

KeyHeader = Annotated[IdempotencyKey, Header(alias="Idempotency-Key")]
SENT_DOC = (
    "Signed by the service's chain account and checked against the contract first: a refusal "
    "is a 4xx naming the field and the contract's figures, and nothing is sent. 201 once "
    "mined; 202 when it is not mined within `GBT_CHAIN_TIMEOUT_S` (the same request again "
    "returns it once it is); 200 for a repeat of a request already done."
)
ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {"model": IssuerTxOut, "description": "Sent, not mined yet."}
}


def issuer_chain(request: Request) -> IssuerChain:
    chain: IssuerChain = request.app.state.issuer_chain
    return chain


def sent_out(response: Response, sent: Sent) -> IssuerTxOut:
    """The transaction, with the status its state calls for (Sent.http_status)."""
    response.status_code = sent.http_status()
    return tx_out(sent.tx)
