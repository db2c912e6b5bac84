"""Installing the agent as a system service: systemd on Linux (linux.py), the Service Control Manager on
Windows through pywin32 (windows.py). Both are driven by `fleetmeter-agent service install|uninstall`."""
