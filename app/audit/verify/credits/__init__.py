"""``gbt-verify credits``: the auditor's independent check of the carbon credits (docs/credits.md,
"Verify credits"), from an export of the log (``GET /v1/audit/export?to=N``) and a node of the
chain alone.

Every check runs and is reported by name, pass or fail, with its figures; a failure does not stop
the others, so one run shows all that is wrong:

- ``export``: the export is the anchored log: leaves 0..n-1 in canonical form, n the tree size
  of its checkpoint line, and their RFC 9162 root the root the ImpactRegistry holds for that
  checkpoint on the expected chain.
- ``issuance_sources`` (1): every ``credit_issuance`` leaf names a ``monitoring_report`` leaf and
  that report's one ``credit_approval`` leaf, approved, for the same content hash, project,
  asset and period, both logged before it (the report before its approval); the issuance's
  ``approval_leaf_hash`` is the approval leaf's hash, and an approval backs one issuance.
- ``reductions`` (2): each monitoring report's reductions, recomputed with the pure rules
  (``app.pure.credits.monitoring_figures``) from the result leaves among the first
  ``checkpoint_tree_size`` leaves (the latest revision of each day, as the service's
  ``app.credits.service._days`` reads them; every day of the period present and final), equal
  the leaf's ``reductions_g`` and ``reductions_t`` (whole tonnes rounded down); each issuance's
  ``reductions_g`` is its report's.
- ``amount_within_reductions`` (3): 1 <= ``amount_t`` <= the report's ``reductions_t`` (the
  leaf's and the recomputed one).
- ``asset_days_once`` (4): the issuance periods of one asset do not overlap.
- ``serials`` (5): per token id, the issuances' serial ranges run 1, 2, ... with neither gap nor
  overlap, each as long as its amount; ``token_id`` is ``tokenIdOf(project_id, vintage)`` and
  the vintage is the period's calendar year.
- ``chain_issuances`` (6): ``issuanceCount`` and each ``getIssuance(i)`` of the CarbonCredit
  contract equal the leaves, the issuing transaction emitted ``CreditIssued`` in the leaf's
  block, and every on-chain issuance has a leaf. One mined after the transaction that anchored
  the export's checkpoint cannot be in its tree: it is listed as not yet logged, not a failure.
- ``approval_inclusion`` (6): each issuance's approval leaf is among the first tree-size leaves
  of the checkpoint it cites, and those leaves of the export give the root the registry holds.
- ``report_checkpoints`` (2, 6): each report's checkpoint is on chain with the report's tree
  size, and the export's first tree-size leaves give its root (what the recomputation used is
  the anchored log).

The asset kind the rules need (``building`` or ``renewable_facility``) is read from the
``benchmark_config`` leaves the period's day results name (each carries ``asset_kind``); the
rules then also check each day's method fits it (``generation`` for a renewable facility).

Pure modules and web3 (read-only calls and ``eth_getLogs``) only. Its modules, for a reader:

- ``log``: the export read once (the leaves the checks need, the root) and its prefix roots;
- ``sources``, ``reductions``, ``ledger_checks``: checks 1 to 5, on the export alone;
- ``chain``: the reads of the registry's checkpoints and of the CarbonCredit contract;
- ``chain_issuances``: the contract's issuances against the leaves;
- ``anchoring``: the export, the approvals and the reports against the anchored checkpoints;
- ``results``: each check's result and the wording the checks share;
- ``command``: ``verify_credits``, which runs them all.
"""

from app.audit.verify.credits.command import verify_credits
from app.audit.verify.credits.results import CHECKS, FAIL, PASS, SKIP, Check, CreditsResult

__all__ = ["CHECKS", "FAIL", "PASS", "SKIP", "Check", "CreditsResult", "verify_credits"]
