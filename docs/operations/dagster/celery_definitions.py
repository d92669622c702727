"""The platform's code location with the Celery executor: each step of a run is a Celery task
on the workers (`celery -A dagster_celery.app worker -Q dagster` on each host, with the same
image, environment and DAGSTER_HOME as the code location).

Install beside the platform: pip install dagster-celery==0.29.27 (the integration release of
Dagster 1.13.27). Point workspace.yaml at this module instead of orchestration.definitions.
"""

import dagster as dg
from dagster_celery import celery_executor

from orchestration.definitions import defs as platform

executor = celery_executor.configured(
    {
        "broker": {"env": "ZMART_CELERY_BROKER_URL"},  # e.g. pyamqp://zmart@rabbitmq:5672//
        "backend": {"env": "ZMART_CELERY_BACKEND_URL"},  # e.g. redis://redis:6379/1
        # Steps retried by Dagster (RetryPolicy on the exchange assets), not by Celery.
        "config_source": {"task_acks_late": True, "worker_prefetch_multiplier": 1},
    }
)

defs = dg.Definitions.merge(platform, dg.Definitions(executor=executor))
