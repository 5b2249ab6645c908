"""The job locks on PostgreSQL: one holder per lock name among the services on one schema, and
services on other schemas of the same database (the suite's schema per test, run side by side
on pytest-xdist workers) never wait for each other."""

import pytest

from app.core.db import create_db_engine
from app.core.locks import try_exclusive
from tests.conftest import fresh_schema, requires_postgres


@requires_postgres
@pytest.mark.postgres
def test_a_job_lock_is_held_once_per_schema() -> None:
    with fresh_schema() as url_a, fresh_schema() as url_b:
        # Two engines on schema a: two replicas of one service.
        replica_1, replica_2, other = (create_db_engine(u) for u in (url_a, url_a, url_b))
        try:
            with try_exclusive(replica_1, "gbt.test-job") as held:
                assert held
                with try_exclusive(replica_2, "gbt.test-job") as second:
                    assert not second
                with try_exclusive(replica_2, "gbt.test-other-job") as another_job:
                    assert another_job
                with try_exclusive(other, "gbt.test-job") as elsewhere:
                    assert elsewhere
            with try_exclusive(replica_2, "gbt.test-job") as released:
                assert released
        finally:
            for engine in (replica_1, replica_2, other):
                engine.dispose()
