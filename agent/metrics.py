"""The agent service's own metrics (`fleetmeter-agent run --metrics-port N`), Prometheus text format on
127.0.0.1 unless told otherwise:

    fleetmeter_agent_devices_read_total{job}        devices read by scheduled and scan-now jobs
    fleetmeter_agent_device_failures_total{job}     devices that did not answer
    fleetmeter_agent_outbox_depth                   readings waiting for upload
    fleetmeter_agent_last_upload_timestamp_seconds  when the last upload attempt ended (Unix time)
    fleetmeter_agent_last_upload_ok                 1 if it succeeded, else 0
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from agent.certs.store import CertStore
from agent.outbox import Outbox


class JobCounts:
    """Devices read and failed, per job, since the service started."""

    def __init__(self) -> None:
        self.read: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()

    def add(self, job: str, read: int, failed: int) -> None:
        self.read[job] += read
        self.failed[job] += failed


class AgentCollector(Collector):
    def __init__(self, counts: JobCounts, outbox: Outbox, store: CertStore) -> None:
        self.counts, self.outbox, self.store = counts, outbox, store

    def collect(self) -> Iterator[Metric]:
        read = CounterMetricFamily("fleetmeter_agent_devices_read", "Devices read", labels=["job"])
        failed = CounterMetricFamily("fleetmeter_agent_device_failures", "Devices that did not answer",
                                     labels=["job"])
        for job in sorted(self.counts.read.keys() | self.counts.failed.keys()):
            read.add_metric([job], self.counts.read[job])
            failed.add_metric([job], self.counts.failed[job])
        yield read
        yield failed
        yield GaugeMetricFamily("fleetmeter_agent_outbox_depth", "Readings waiting for upload",
                                value=len(self.outbox))
        last = self.store.last_upload()
        if last is not None:
            at = datetime.fromisoformat(last.at.replace("Z", "+00:00")).timestamp()
            yield GaugeMetricFamily("fleetmeter_agent_last_upload_timestamp_seconds",
                                    "When the last upload attempt ended", value=at)
            yield GaugeMetricFamily("fleetmeter_agent_last_upload_ok", "1 if the last upload succeeded",
                                    value=int(last.ok))


def serve_metrics(collector: AgentCollector, address: str, port: int):
    """Serve /metrics in a background thread; returns the HTTP server (call .shutdown() to stop)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    server, _thread = start_http_server(port, addr=address, registry=registry)
    return server
