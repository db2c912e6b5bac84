"""usb package."""
