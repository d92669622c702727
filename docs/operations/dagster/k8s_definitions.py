"""The platform's code location with the Kubernetes job executor: each step of a run in its own
pod (the run itself is launched as a pod by the K8sRunLauncher of helm/values.yaml).

Install beside the platform: pip install dagster-k8s==0.29.27. Point the user deployment's
dagsterApiGrpcArgs at this module (helm/values.yaml does).
"""

import dagster as dg
from dagster_k8s import k8s_job_executor

from orchestration.definitions import defs as platform

executor = k8s_job_executor.configured(
    {
        # Step pods running at once per run; the exchange pool still serialises the exchange steps.
        "max_concurrent": 8,
        "env_secrets": ["zmart-warehouse"],
        "env_config_maps": ["zmart-settings"],
        # Every step pod; dbt's step (every model of the window, dbt's own threads) is the one that needs it.
        "resources": {"requests": {"cpu": "2", "memory": "4Gi"}, "limits": {"memory": "8Gi"}},
    }
)

defs = dg.Definitions.merge(platform, dg.Definitions(executor=executor))
