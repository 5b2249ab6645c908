"""``gbt-verify``: the auditor's standalone verifier.

    gbt-verify bundle FILE --rpc URL [--chain-id N] [--contract ADDR]
    gbt-verify consistency --rpc URL --contract ADDR --from N1 --to N2 --proof FILE
    gbt-verify recompute --export FILE --rpc URL --contract ADDR [--chain-id N] [--skip-root]
    gbt-verify investor --api URL --export FILE --rpc URL --contract ADDR [--api-key KEY]
    gbt-verify holding [FILE | --api URL --token TOKEN] --rpc URL [--account ADDR] [--chain-id N]
    gbt-verify report FILE --export EXPORT --rpc URL --contract ADDR [--chain-id N]
    gbt-verify credits --export EXPORT --rpc URL --contract ADDR [--credit-contract ADDR]
                       [--chain-id N] [--json]

One line per check ("ok   ..."); the first failure prints "FAIL <what>: <reason>" and exits 1.
``credits`` runs all its checks and prints each ("ok", "FAIL", "skip"; "note" for on-chain
issuances not logged yet), or one JSON document with --json; it exits 1 if any failed.
Unusable input (unreadable or malformed JSON, an unreadable report or one of no known format,
an unreachable node) exits 2.
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from web3 import Web3

from app.audit.verify.checks import (
    Bundle,
    Chain,
    CheckFailedError,
    UnusableInputError,
    hash_list,
    verify_bundle,
    verify_checkpoint_consistency,
)
from app.audit.verify.credits import FAIL, SKIP, CreditsResult, verify_credits
from app.audit.verify.holding import verify_holding_statement
from app.audit.verify.investor import http_fetch, verify_investor
from app.audit.verify.recompute import verify_recompute
from app.audit.verify.report import verify_report


def _ok(line: str) -> None:
    print(f"ok   {line}", flush=True)


def _skip(line: str) -> None:
    print(f"skip {line}", flush=True)


def _read_json(path: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise UnusableInputError(f"cannot read {path} as JSON: {e}") from e


def _address(value: str) -> str:
    if not Web3.is_address(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not an Ethereum address")
    return str(Web3.to_checksum_address(value))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gbt-verify",
        description="Check proof bundles and checkpoint consistency against the chain itself.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    bundle = sub.add_parser("bundle", help="check a proof bundle (docs/audit-bundle.md)")
    bundle.add_argument("file", help="the bundle (JSON)")
    bundle.add_argument("--rpc", required=True, help="JSON-RPC URL of a node of the chain")
    bundle.add_argument("--chain-id", type=int, help="the chain id you expect")
    bundle.add_argument("--contract", type=_address, help="the registry address you expect")
    bundle.add_argument("--timeout", type=float, default=30.0, help="RPC timeout (seconds)")

    cons = sub.add_parser(
        "consistency", help="check that a later checkpoint extends an earlier one"
    )
    cons.add_argument("--rpc", required=True, help="JSON-RPC URL of a node of the chain")
    cons.add_argument("--contract", required=True, type=_address, help="the registry address")
    cons.add_argument("--from", dest="first", required=True, type=int, help="earlier checkpoint")
    cons.add_argument("--to", dest="second", required=True, type=int, help="later checkpoint")
    cons.add_argument("--proof", required=True, help='JSON file {"proof_hex": [...]}')
    cons.add_argument("--chain-id", type=int, help="the chain id you expect")
    cons.add_argument("--timeout", type=float, default=30.0, help="RPC timeout (seconds)")

    rec = sub.add_parser(
        "recompute",
        help="rebuild a checkpoint's root, results and bond totals from an export of the log",
    )
    rec.add_argument("--export", required=True, help="NDJSON from GET /v1/audit/export")
    rec.add_argument("--rpc", required=True, help="JSON-RPC URL of a node of the chain")
    rec.add_argument("--contract", required=True, type=_address, help="the registry address")
    rec.add_argument("--chain-id", type=int, help="the chain id you expect")
    rec.add_argument(
        "--skip-root",
        action="store_true",
        help="diagnosis only: do not compare the export's root with the chain (a run with it "
        "proves nothing about the anchored log)",
    )
    rec.add_argument("--timeout", type=float, default=30.0, help="RPC timeout (seconds)")

    inv = sub.add_parser(
        "investor",
        help="recompute as `recompute` does, then compare what the investor API publishes "
        "(anchored totals, anchored months of each bond) with the recomputation",
    )
    inv.add_argument("--api", required=True, help="base URL of the service")
    inv.add_argument("--api-key", help="investor API key, if the API asks for one")
    inv.add_argument("--export", required=True, help="NDJSON from GET /v1/audit/export")
    inv.add_argument("--rpc", required=True, help="JSON-RPC URL of a node of the chain")
    inv.add_argument("--contract", required=True, type=_address, help="the registry address")
    inv.add_argument("--chain-id", type=int, help="the chain id you expect")
    inv.add_argument("--timeout", type=float, default=30.0, help="RPC and HTTP timeout (s)")
    hold = sub.add_parser(
        "holding",
        help="check a holder's statement (GET /v1/investor/holdings) against the chain: "
        "position, supply, checkpoint totals, the share, and the token's holderImpactAt",
    )
    hold.add_argument("file", nargs="?", help="the statement (JSON); or fetch it with --api")
    hold.add_argument("--api", help="base URL of the service, to fetch the statement")
    hold.add_argument("--token", help="with --api: the sign-in token (or the admin token)")
    hold.add_argument("--account", type=_address, help="the account you expect (admin: asked)")
    hold.add_argument("--rpc", required=True, help="JSON-RPC URL of a node of the chain")
    hold.add_argument("--chain-id", type=int, help="the chain id you expect")
    hold.add_argument("--timeout", type=float, default=30.0, help="RPC and HTTP timeout (s)")

    rep = sub.add_parser(
        "report",
        help="check a downloaded green bond report (JSON, PDF, XLSX or CSV): its own hash, its "
        "report leaf in an export of the log, the checkpoint it cites on chain, and every "
        "recomputed figure (docs/reporting.md)",
    )
    rep.add_argument("file", help="the report, in any format (detected by its content)")
    rep.add_argument(
        "--export",
        required=True,
        help="NDJSON from GET /v1/audit/export, up to a checkpoint that includes the report's leaf",
    )
    rep.add_argument("--rpc", required=True, help="JSON-RPC URL of a node of the chain")
    rep.add_argument("--contract", required=True, type=_address, help="the registry address")
    rep.add_argument("--chain-id", type=int, help="the chain id you expect")
    rep.add_argument("--timeout", type=float, default=30.0, help="RPC timeout (seconds)")

    cred = sub.add_parser(
        "credits",
        help="check the carbon credits: every issuance recomputed from its monitoring period, "
        "serials, asset-days credited once, and the CarbonCredit contract (docs/credits.md)",
    )
    cred.add_argument("--export", required=True, help="NDJSON from GET /v1/audit/export")
    cred.add_argument(
        "--rpc", "--rpc-url", dest="rpc", required=True, help="JSON-RPC URL of a node of the chain"
    )
    cred.add_argument("--contract", required=True, type=_address, help="the registry address")
    cred.add_argument(
        "--credit-contract",
        type=_address,
        help="the CarbonCredit address (default: the one the issuance leaves name; give it "
        "so that an export without any issuance leaf is compared with the chain too)",
    )
    cred.add_argument("--chain-id", type=int, help="the chain id you expect")
    cred.add_argument("--json", action="store_true", help="print one JSON document")
    cred.add_argument("--timeout", type=float, default=30.0, help="RPC timeout (seconds)")
    return parser


def _print_credits(result: CreditsResult, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result.as_json(), indent=2), flush=True)
        return
    for check in result.checks:
        if check.status == FAIL:
            first, *more = check.problems
            print(f"FAIL {check.name}: {first}", flush=True)
            for problem in more:
                print(f"     {problem}", flush=True)
        elif check.status == SKIP:
            _skip(f"{check.name}: {check.skipped}")
        else:
            _ok(f"{check.name}: {check.summary}")
        for note in check.notes:
            print(f"note {check.name}: {note}", flush=True)


def _statement(args: argparse.Namespace) -> Any:
    """The statement from its file, or fetched from the service with the bearer token."""
    if (args.file is None) == (args.api is None):
        raise UnusableInputError("give the statement's FILE or --api (with --token), not both")
    if args.file is not None:
        return _read_json(args.file)
    if not args.token:
        raise UnusableInputError("--api needs --token (a sign-in token, or the admin token)")
    params = {} if args.account is None else {"account": args.account}
    return http_fetch(args.api, args.token, args.timeout)("/v1/investor/holdings", params)


def run(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "bundle":
            bundle = Bundle.parse(_read_json(args.file))
            verify_bundle(
                bundle,
                Chain(args.rpc, args.timeout),
                _ok,
                expect_chain_id=args.chain_id,
                expect_contract=args.contract,
            )
        elif args.command == "recompute":
            verify_recompute(
                args.export,
                Chain(args.rpc, args.timeout),
                args.contract,
                _ok,
                expect_chain_id=args.chain_id,
                skip_root=args.skip_root,
                skip=_skip,
            )
        elif args.command == "investor":
            verify_investor(
                args.export,
                Chain(args.rpc, args.timeout),
                args.contract,
                http_fetch(args.api, args.api_key, args.timeout),
                _ok,
                expect_chain_id=args.chain_id,
            )
        elif args.command == "report":
            verify_report(
                args.file,
                args.export,
                Chain(args.rpc, args.timeout),
                args.contract,
                _ok,
                expect_chain_id=args.chain_id,
            )
        elif args.command == "credits":
            result = verify_credits(
                args.export,
                Chain(args.rpc, args.timeout),
                args.contract,
                credit_contract=args.credit_contract,
                expect_chain_id=args.chain_id,
            )
            _print_credits(result, args.json)
            return 0 if result.ok else 1
        elif args.command == "holding":
            verify_holding_statement(
                _statement(args),
                Chain(args.rpc, args.timeout),
                _ok,
                expect_chain_id=args.chain_id,
                expect_account=args.account,
            )
        else:
            if not 0 <= args.first <= args.second:
                raise UnusableInputError("--from must be a checkpoint number not after --to")
            document = _read_json(args.proof)
            if not isinstance(document, dict) or "proof_hex" not in document:
                raise UnusableInputError(f'{args.proof}: expected an object {{"proof_hex": [...]}}')
            proof = hash_list(document["proof_hex"], "proof_hex")
            verify_checkpoint_consistency(
                Chain(args.rpc, args.timeout),
                args.contract,
                args.first,
                args.second,
                proof,
                _ok,
                expect_chain_id=args.chain_id,
            )
    except CheckFailedError as e:
        print(f"FAIL {e.what}: {e.reason}", flush=True)
        return 1
    except UnusableInputError as e:
        print(f"error: {e}", file=sys.stderr, flush=True)
        return 2
    return 0


def main() -> None:
    sys.exit(run())


if __name__ == "__main__":
    main()
