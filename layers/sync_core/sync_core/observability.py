"""Logger, Tracer and Metrics singletons shared by every function (service name from POWERTOOLS_SERVICE_NAME)."""

from __future__ import annotations

from collections.abc import Mapping

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric

logger = Logger()
tracer = Tracer()
metrics = Metrics()


def publish_counts(counts: Mapping[tuple[str, str, str], int]) -> None:
    """One metric per (metric name, entity, direction), e.g. ChangesApplied {entity: Account, direction: ...}.

    Powertools' Metrics share one dimension set per flush, so metrics by entity go out one by one.
    """
    for (name, entity, direction), value in sorted(counts.items()):
        if value <= 0:
            continue
        with single_metric(
            name=name,
            unit=MetricUnit.Count,
            value=value,
            namespace=metrics.namespace,
            default_dimensions=metrics.default_dimensions,
        ) as metric:
            metric.add_dimension(name="entity", value=entity)
            metric.add_dimension(name="direction", value=direction)
