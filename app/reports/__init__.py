"""Reports: the green bond report issuers publish (allocation and impact, ICMA and Japanese MOE
layouts) built from the log at a confirmed checkpoint, its formats (JSON, CSV, XLSX, PDF), and
the ``report`` leaf that makes a published report verifiable (docs/reporting.md).

Importing the package registers the ``report`` leaf's builder with the ledger
(app/reports/leaves.py), so every process that knows the report table (app.models imports it)
can rebuild the leaf.
"""

from app.reports import leaves as leaves
