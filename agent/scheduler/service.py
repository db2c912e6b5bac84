"""`fleetmeter-agent run`: the long-running service.

One asyncio loop holds everything: APScheduler (AsyncIOScheduler) fires the jobs on their schedules, a
heartbeat loop fetches the server's configuration and applies it at once, a delivery loop empties the
outbox with jittered exponential backoff (`Backoff`) while the server is unreachable or answers wrongly, and
the control channel serves `scan-now`. A job never runs twice at the same time (a scan-now of a running job
says so). A loop that fails is logged and started again after a backoff, never left dead.

A server configuration that cannot be applied (`check_remote`) is refused with a warning, never cached: the
last good one stays in use (also after a restart), and the refusal goes to the server with the next
heartbeats (`agent.config_refused`: version and one-line error) until the server sends one that can.

Missed runs are caught up at start (like anacron): when the machine was off at the meters' 02:00, meters
are read when the service starts. Last run times live in `schedule-state.json` in the data directory.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime, timedelta, timezone

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from agent.certs.errors import TrustError
from agent.certs.files import write_atomic
from agent.certs.store import CertStore
from agent.certs.transport import one_line
from agent.home import AgentPaths
from agent.metrics import JobCounts
from agent.network.known_devices import KnownDevices
from agent.outbox import Outbox
from agent.remote import send_heartbeat
from agent.scheduler.config import (JOBS, AgentConfig, ConfigError, ConfigStore, Schedule, check_remote,
                                    document_version)
from agent.scheduler.control import ControlServer
from agent.scheduler.jobs import JobResult, Jobs
from agent.scheduler.logs import Redactor
from agent.scheduler.targets import Discover, RangeError, sweep_printers
from agent.upload import deliver
from agent.usb import inspect_usb
from agent.vault import Vault
from fleetmeter_contract.reading import DeviceReading

log = logging.getLogger("fleetmeter.service")

SCAN_NOW = ("inspection", "alerts", "discovery", "meters", "supplies")
STATE_FILE = "schedule-state.json"


class Backoff:
    """Exponential backoff with jitter above a floor (not AWS's "full jitter", which may wait 0 s): after the
    n-th failure in a row (n = 1, 2, ...) the wait is uniform between `minimum` and
    min(maximum, minimum * 2**n). Even the first retries of agents that failed together are spread over
    [minimum, 2 * minimum], and no retry comes sooner than `minimum`."""

    def __init__(self, minimum: float, maximum: float) -> None:
        self.minimum, self.maximum, self.failures = minimum, maximum, 0

    def ceiling(self) -> float:
        """The longest the next wait can be."""
        return max(self.minimum, min(self.maximum, self.minimum * 2 ** (self.failures + 1)))

    def next_delay(self) -> float:
        ceiling = self.ceiling()
        self.failures = min(self.failures + 1, 64)  # 2**64 * minimum is past any maximum
        return random.uniform(self.minimum, ceiling)

    def reset(self) -> None:
        self.failures = 0


class Service:
    def __init__(self, paths: AgentPaths, redactor: Redactor | None = None, discover: Discover = sweep_printers,
                 usb_reader: Callable[[], list[DeviceReading]] = inspect_usb) -> None:
        self.paths = paths.ensure()
        self.redactor = redactor or Redactor()
        self.configs = ConfigStore(paths.data, paths.config, Vault(paths.data))
        try:
            self.config: AgentConfig = self.configs.effective()
        except ConfigError as exc:  # a bad local file stops here (the user fixes it); a bad server one does not
            self.config = self.configs.effective(with_remote=False)
            log.error("server configuration not applied, using defaults and the local file: %s", exc)
        if self.configs.remote_file.exists() and not self.configs.remote():
            log.warning("the cached server configuration (%s) cannot be used; defaults and the local file apply "
                        "until the server sends one that can", self.configs.remote_file)
        self.config_refused: dict | None = None  # {"version", "error"} of the server document last refused
        self.redactor.use(self.config.credentials)
        self.store = CertStore(paths.data / "certs")
        self.outbox = Outbox(paths.data / "outbox.db", self.config.outbox_max_bytes)
        self.jobs = Jobs(self.outbox, KnownDevices(paths.data / "known_devices.sqlite"), discover, usb_reader,
                         on_queued=self._queued, config_dir=paths.config, cache_dir=paths.cache)
        self.backoff = Backoff(self.config.retry_min_s, self.config.retry_max_s)
        self.state_file = paths.data / STATE_FILE
        self.last_runs: dict[str, float] = self._load_state()
        self.last_results: dict[str, dict] = {}
        self.counts = JobCounts()  # devices read and failed per job (`run --metrics-port`)
        self._stop = asyncio.Event()
        self._wake_delivery = asyncio.Event()
        self._locks = {job: asyncio.Lock() for job in ("inspection", *JOBS)}
        self._running: set[asyncio.Task] = set()
        self._warned_not_enrolled = False
        self._discover_again = False
        self.scheduler: AsyncIOScheduler | None = None

    # -- lifecycle -----------------------------------------------------------------------------------------

    def request_stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        self.scheduler = AsyncIOScheduler(event_loop=asyncio.get_running_loop())
        self.scheduler.start()
        await self.heartbeat()  # the first runs use the server's configuration when it can be reached
        self._apply_schedules({})
        control = ControlServer(self.paths.data, self._control)
        await control.start()
        log.info("service started: %s; %d queued reading(s); data in %s", self._describe_schedules(),
                 len(self.outbox), self.paths.data)
        loops = [asyncio.create_task(self._supervised("heartbeat", self._heartbeat_loop)),
                 asyncio.create_task(self._supervised("delivery", self._delivery_loop))]
        try:
            await self._stop.wait()
        finally:
            log.info("stopping: %d job(s) running are cancelled (what they queued is kept)", len(self._running))
            self.scheduler.shutdown(wait=False)
            for task in [*loops, *self._running]:
                task.cancel()
            await asyncio.gather(*loops, *self._running, return_exceptions=True)
            await control.close()
            log.info("stopped; %d reading(s) queued for the next start", len(self.outbox))

    async def _supervised(self, name: str, loop: Callable) -> None:
        """Run `loop` until the service stops; when it fails, log why and start it again after a backoff."""
        backoff = Backoff(self.config.retry_min_s, self.config.retry_max_s)
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                await loop()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - whatever it was, the loop must come back
                if time.monotonic() - started > backoff.maximum:  # it had been working: a fresh failure
                    backoff.reset()
                delay = backoff.next_delay()
                log.error("%s loop failed (%s: %s); restarting it in %.1f s", name, type(exc).__name__,
                          str(exc).splitlines()[0] if str(exc) else "", delay)
                log.debug("%s loop failure", name, exc_info=True)
                await asyncio.sleep(delay)

    # -- schedules -----------------------------------------------------------------------------------------

    def _trigger(self, schedule: Schedule):
        if schedule.cron:
            return CronTrigger.from_crontab(schedule.cron)
        return IntervalTrigger(seconds=schedule.interval_s)

    def _first_run(self, schedule: Schedule) -> datetime:
        """Now when the job is overdue (never ran, or a run was missed while the service was down)."""
        now = datetime.now(timezone.utc)
        last = self.last_runs.get(schedule.job)
        if last is None:
            return now
        last_at = datetime.fromtimestamp(last, timezone.utc)
        if schedule.cron:
            due = CronTrigger.from_crontab(schedule.cron).get_next_fire_time(None, last_at + timedelta(seconds=1))
        else:
            due = last_at + timedelta(seconds=schedule.interval_s)
        return max(due, now)

    def _apply_schedules(self, previous: dict[str, Schedule]) -> None:
        for job, schedule in self.config.schedules.items():
            if previous.get(job) == schedule:
                continue
            if not schedule.enabled:
                if self.scheduler.get_job(job):
                    self.scheduler.remove_job(job)
                continue
            self.scheduler.add_job(self.run_job, self._trigger(schedule), args=[job], id=job, name=job,
                                   replace_existing=True, coalesce=True, max_instances=1,
                                   misfire_grace_time=3600, next_run_time=self._first_run(schedule))

    def _describe_schedules(self) -> str:
        return ", ".join(f"{job} {s.describe()}" for job, s in self.config.schedules.items())

    def _load_state(self) -> dict[str, float]:
        try:
            return {k: float(v) for k, v in json.loads(self.state_file.read_text()).items()}
        except (OSError, ValueError, AttributeError):
            return {}

    def _save_state(self) -> None:
        write_atomic(self.state_file, json.dumps(self.last_runs).encode(), 0o600)

    # -- jobs ----------------------------------------------------------------------------------------------

    async def run_job(self, job: str) -> JobResult | None:
        """Run one job now; None when it is already running, or when the service stops during it."""
        lock = self._locks[job]
        if lock.locked():
            log.info("%s: still running, this run is skipped", job)
            return None
        task = asyncio.current_task()
        self._running.add(task)
        try:
            async with lock:
                config = self.config
                try:
                    if job == "discovery":
                        result = await self.jobs.discovery(config)
                    else:
                        result = await self.jobs.inspect(job, config)
                except (RangeError, OSError) as exc:
                    log.error("%s failed: %s", job, exc)
                    return JobResult(job, note=f"failed: {exc}")
                except Exception as exc:  # noqa: BLE001 - a job started by scan-now or a reload has no other caller
                    log.error("%s failed (%s: %s)", job, type(exc).__name__, exc)
                    log.debug("%s failure", job, exc_info=True)
                    return JobResult(job, note=f"failed: {type(exc).__name__}: {exc}")
                self.last_runs[job if job != "inspection" else "meters"] = time.time()
                if job == "inspection":
                    self.last_runs["supplies"] = time.time()
                self._save_state()
                self.last_results[job] = asdict(result)
                self.counts.add(job, result.read, result.failed)
                log.info("%s", result.summary())
                return result
        except asyncio.CancelledError:
            if not self._stop.is_set():
                raise
            # run() cancels the runs going on when the service stops; ending here keeps APScheduler from
            # logging that as a job failure with a traceback (what the run queued is committed and kept)
            log.info("%s: cancelled by the stop", job)
            return None
        finally:
            self._running.discard(task)
            if job == "discovery" and self._discover_again and not self._stop.is_set():
                self._discover_again = False
                asyncio.get_running_loop().create_task(self.run_job("discovery"))

    async def _control(self, request: dict) -> dict:
        if request.get("command") == "status":
            return {"ok": True, "queued": len(self.outbox), "config_version": self.config.version,
                    "schedules": {job: s.describe() for job, s in self.config.schedules.items()},
                    "last_results": self.last_results}
        job = request.get("job")
        if request.get("command") != "scan" or job not in SCAN_NOW:
            return {"ok": False, "error": f"unknown request; scan-now takes one of {', '.join(SCAN_NOW)}"}
        if self._locks[job].locked():
            return {"ok": False, "error": f"{job} is already running"}
        task = asyncio.create_task(self.run_job(job))
        if not request.get("wait"):
            return {"ok": True, "started": job}
        result = await task
        if result is None:
            return {"ok": False, "error": f"{job} is already running"}
        return {"ok": True, "result": asdict(result), "summary": result.summary()}

    def _queued(self) -> None:
        self._wake_delivery.set()

    # -- heartbeat and configuration -----------------------------------------------------------------------

    async def _heartbeat_loop(self) -> None:
        while True:  # run() sent the first heartbeat
            await asyncio.sleep(self.config.heartbeat_s)
            await self.heartbeat()

    async def heartbeat(self) -> None:
        parts = {name: {"ok": health.ok, "at": datetime.fromtimestamp(health.at, timezone.utc).isoformat(),
                        "detail": health.detail[:200]} for name, health in self.jobs.parts.items()}
        remote = self.configs.remote()
        try:
            answer = await asyncio.to_thread(send_heartbeat, self.store, len(self.outbox), parts,
                                             document_version(remote) if remote else None, self.config_refused)
        except TrustError as exc:
            if self.store.enrolment() is None:
                if not self._warned_not_enrolled:
                    log.warning("%s; collecting and queueing readings meanwhile", exc)
                    self._warned_not_enrolled = True
            else:
                log.warning("heartbeat failed: %s", exc)
            self._reload(remote)  # the local file may still have changed
            return
        document = answer.config if answer.config is not None else {}
        if document_version(document) == document_version(remote):
            self.config_refused = None
        else:
            problem = check_remote(document)
            if problem is None:
                self.configs.save_remote(document)
                self.config_refused = None
            else:
                refused = {"version": document_version(document), "error": one_line(problem, 500)}
                if refused != self.config_refused:
                    log.warning("server configuration %s refused, keeping %s: %s", refused["version"],
                                document_version(remote) if remote else "the defaults", refused["error"])
                self.config_refused = refused
        self._reload(remote)

    def _reload(self, remote: dict) -> None:
        try:
            config = self.configs.effective()
        except ConfigError as exc:
            log.error("configuration not applied, keeping version %s: %s", self.config.version, exc)
            return
        if config.version == self.config.version:
            return
        previous, self.config = self.config, config
        self.redactor.use(config.credentials)
        self.outbox.max_bytes = config.outbox_max_bytes
        self.backoff.minimum, self.backoff.maximum = config.retry_min_s, config.retry_max_s
        if self.scheduler is not None:
            self._apply_schedules(previous.schedules)
        if (config.ranges, config.credentials) != (previous.ranges, previous.credentials) and self.scheduler:
            # known devices were found with the old ranges and credentials: look again now (or right after
            # the discovery that is running, which started with the old ones)
            if self._locks["discovery"].locked():
                self._discover_again = True
            else:
                asyncio.get_running_loop().create_task(self.run_job("discovery"))
        log.info("configuration %s applied: %s; %d range entries, %d credential(s)", config.version,
                 self._describe_schedules(), sum(len(group.entries) for group in config.ranges),
                 len(config.credentials))

    # -- delivery ------------------------------------------------------------------------------------------

    async def _delivery_loop(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake_delivery.wait(), self.config.heartbeat_s)
            except asyncio.TimeoutError:
                pass
            self._wake_delivery.clear()
            while len(self.outbox) and self.store.enrolment() is not None:
                result = await asyncio.to_thread(deliver, self.store, self.outbox)
                if result.delivered:  # acknowledged to the end (a reading the server refused is set aside)
                    if result.sent or not result.ok:
                        log.log(logging.INFO if result.ok else logging.WARNING, "upload: %s", result.message)
                    self.backoff.reset()
                    break
                delay = self.backoff.next_delay()
                log.warning("upload failed (%d reading(s) kept): %s; retrying in %.0f s", result.queued,
                            result.message, delay)
                await asyncio.sleep(delay)
