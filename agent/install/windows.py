"""The agent as a Windows service (pywin32, optional: pip install "fleetmeter[windows]").

The service runs `fleetmeter-agent run` in the service process; a stop request from the Service Control
Manager stops the asyncio loop the same way SIGTERM does on Linux. State lives in the machine-wide
ProgramData directory (the service runs as LocalSystem, or an account given at install). Written against
pywin32's documented API; not run on Windows in this project's tests.
"""

from __future__ import annotations

import os
import sys

SERVICE_NAME = "FleetmeterAgent"
DISPLAY_NAME = "Fleetmeter printer data-collection agent"
PROGRAM_DATA = os.path.join(os.environ.get("PROGRAMDATA", r"C:\ProgramData"), "Fleetmeter")


class InstallError(Exception):
    pass


def _pywin32():
    if sys.platform != "win32":
        raise InstallError("the Windows service exists only on Windows; on Linux use systemd (service install)")
    try:
        import servicemanager  # noqa: F401
        import win32service  # noqa: F401
        import win32serviceutil
    except ImportError:
        raise InstallError('pywin32 is missing; install it: pip install "fleetmeter[windows]"') from None
    return win32serviceutil


def service_class():  # pragma: no cover - Windows only
    import servicemanager
    import win32service
    import win32serviceutil

    class AgentService(win32serviceutil.ServiceFramework):
        _svc_name_ = SERVICE_NAME
        _svc_display_name_ = DISPLAY_NAME
        _svc_description_ = "Reads printer meters, supplies and alerts and sends them to the dealer's server."

        def __init__(self, args) -> None:
            super().__init__(args)
            self.loop = self.service = None

        def SvcStop(self) -> None:
            self.ReportServiceStatus(win32service.SERVICE_STOP_PENDING)
            if self.loop is not None:
                self.loop.call_soon_threadsafe(self.service.request_stop)

        def SvcDoRun(self) -> None:
            from agent.scheduler.foreground import serve
            from agent.home import agent_paths
            from agent.scheduler.logs import setup_logging
            from agent.scheduler.service import Service

            os.environ.setdefault("FLEETMETER_HOME", PROGRAM_DATA)  # not the service account's profile
            paths = agent_paths().ensure()
            service = Service(paths, setup_logging(paths.logs, console=False))
            servicemanager.LogInfoMsg(f"{SERVICE_NAME} started")

            def hook(loop, svc) -> None:
                self.loop, self.service = loop, svc

            serve(service, on_loop=hook)
            servicemanager.LogInfoMsg(f"{SERVICE_NAME} stopped")

    return AgentService


ACL = ("icacls", PROGRAM_DATA, "/inheritance:r", "/grant:r", "*S-1-5-18:(OI)(CI)F", "*S-1-5-32-544:(OI)(CI)F")


def install_steps(start: bool = True) -> list[str]:
    steps = [f"create {PROGRAM_DATA}, readable only by SYSTEM and Administrators: {' '.join(ACL)}",
             f"register service {SERVICE_NAME} ({DISPLAY_NAME}), automatic start, running "
             f"{sys.executable} with agent.install.windows"]
    if start:
        steps.append(f"start service {SERVICE_NAME}")
    return steps


def install(start: bool = True) -> None:  # pragma: no cover - Windows only
    import subprocess

    util = _pywin32()
    os.makedirs(PROGRAM_DATA, exist_ok=True)
    subprocess.run(ACL, check=True, capture_output=True)  # the control token and vault key live here
    util.InstallService(f"{__name__}.AgentService", SERVICE_NAME, DISPLAY_NAME, startType=2,
                        exeName=None, description="Reads printer meters, supplies and alerts and sends them to "
                                                  "the dealer's server.")
    if start:
        util.StartService(SERVICE_NAME)


def uninstall_steps() -> list[str]:
    return [f"stop service {SERVICE_NAME}", f"remove service {SERVICE_NAME}"]


def uninstall() -> None:  # pragma: no cover - Windows only
    util = _pywin32()
    try:
        util.StopService(SERVICE_NAME)
    except Exception:  # noqa: BLE001 - pywintypes.error when it is not running
        pass
    util.RemoveService(SERVICE_NAME)


if sys.platform == "win32":  # pragma: no cover - the SCM loads AgentService from this module
    try:
        AgentService = service_class()
    except ImportError:
        pass

if __name__ == "__main__":  # pragma: no cover - run by pythonservice.exe / the SCM
    import servicemanager
    import win32serviceutil

    if len(sys.argv) == 1:
        servicemanager.Initialize()
        servicemanager.PrepareToHostSingle(AgentService)
        servicemanager.StartServiceCtrlDispatcher()
    else:
        win32serviceutil.HandleCommandLine(AgentService)
