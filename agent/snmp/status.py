"""Device status, error bits and alerts: Host-Resources-MIB and Printer-MIB enumerations decoded."""

from __future__ import annotations

from agent.snmp.values import Raw, Warnings

HR_DEVICE_STATUS = {1: "unknown", 2: "running", 3: "warning", 4: "testing", 5: "down"}
HR_PRINTER_STATUS = {1: "other", 2: "unknown", 3: "idle", 4: "printing", 5: "warmup"}

# hrPrinterDetectedErrorState (RFC 3805 section 2.2.13.4): bit 0 is the most significant bit of the
# first octet.
DETECTED_ERROR_BITS = (
    "lowPaper", "noPaper", "lowToner", "noToner", "doorOpen", "jammed", "offline",
    "serviceRequested", "inputTrayMissing", "outputTrayMissing", "markerSupplyMissing",
    "outputNearFull", "outputFull", "inputTrayEmpty", "overduePreventMaint",
)

ALERT_SEVERITY = {
    1: "other", 3: "critical", 4: "warning", 5: "warning_binary_change_event",
}
ALERT_TRAINING = {
    1: "other", 2: "unknown", 3: "untrained", 4: "trained", 5: "field_service", 6: "management",
    7: "no_intervention_required",
}
# PrtAlertGroupTC
ALERT_GROUP = {
    1: "other", 3: "hostResourcesMIBStorageTable", 4: "hostResourcesMIBDeviceTable", 5: "generalPrinter",
    6: "cover", 7: "localization", 8: "input", 9: "output", 10: "marker", 11: "markerSupplies",
    12: "markerColorant", 13: "mediaPath", 14: "channel", 15: "interpreter", 16: "consoleDisplayBuffer",
    17: "consoleLights", 18: "alert", 30: "finDevice", 31: "finSupply", 32: "finSupplyMediaInput",
    33: "finAttribute",
}
# PrtAlertCodeTC
ALERT_CODE = {
    1: "other", 2: "unknown", 3: "coverOpen", 4: "coverClosed", 5: "interlockOpen", 6: "interlockClosed",
    7: "configurationChange", 8: "jam", 9: "subunitMissing", 10: "subunitLifeAlmostOver",
    11: "subunitLifeOver", 12: "subunitAlmostEmpty", 13: "subunitEmpty", 14: "subunitAlmostFull",
    15: "subunitFull", 16: "subunitNearLimit", 17: "subunitAtLimit", 18: "subunitOpened",
    19: "subunitClosed", 20: "subunitTurnedOn", 21: "subunitTurnedOff", 22: "subunitOffline",
    23: "subunitPowerSaver", 24: "subunitWarmingUp", 25: "subunitAdded", 26: "subunitRemoved",
    27: "subunitResourceAdded", 28: "subunitResourceRemoved", 29: "subunitRecoverableFailure",
    30: "subunitUnrecoverableFailure", 31: "subunitRecoverableStorageError",
    32: "subunitUnrecoverableStorageError", 33: "subunitMotorFailure", 34: "subunitMemoryExhausted",
    35: "subunitUnderTemperature", 36: "subunitOverTemperature", 37: "subunitTimingFailure",
    38: "subunitThermistorFailure", 501: "doorOpen", 502: "doorClosed", 503: "powerUp",
    504: "powerDown", 505: "printerNMSReset", 506: "printerManualReset", 507: "printerReadyToPrint",
    801: "inputMediaTrayMissing", 802: "inputMediaSizeChange", 803: "inputMediaWeightChange",
    804: "inputMediaTypeChange", 805: "inputMediaColorChange", 806: "inputMediaFormPartsChange",
    807: "inputMediaSupplyLow", 808: "inputMediaSupplyEmpty", 809: "inputManualInputRequest",
    810: "inputManualInputRequest", 811: "inputTrayPositionFailure", 812: "inputTrayElevationFailure",
    813: "inputCannotFeedSizeSelected", 901: "outputMediaTrayMissing", 902: "outputMediaTrayAlmostFull",
    903: "outputMediaTrayFull", 904: "outputMailboxSelectFailure", 1001: "markerFuserUnderTemperature",
    1002: "markerFuserOverTemperature", 1003: "markerFuserTimingFailure",
    1004: "markerFuserThermistorFailure", 1005: "markerAdjustingPrintQuality",
    1101: "markerTonerEmpty", 1102: "markerInkEmpty", 1103: "markerPrintRibbonEmpty",
    1104: "markerTonerAlmostEmpty", 1105: "markerInkAlmostEmpty", 1106: "markerPrintRibbonAlmostEmpty",
    1107: "markerWasteTonerReceptacleAlmostFull", 1108: "markerWasteInkReceptacleAlmostFull",
    1109: "markerWasteTonerReceptacleFull", 1110: "markerWasteInkReceptacleFull",
    1111: "markerOpcLifeAlmostOver", 1112: "markerOpcLifeOver", 1113: "markerDeveloperAlmostEmpty",
    1114: "markerDeveloperEmpty", 1115: "markerTonerCartridgeMissing",
    1301: "mediaPathMediaTrayMissing", 1302: "mediaPathMediaTrayAlmostFull",
    1303: "mediaPathMediaTrayFull", 1304: "mediaPathCannotDuplexMediaSelected",
    1501: "interpreterMemoryIncrease", 1502: "interpreterMemoryDecrease",
    1503: "interpreterCartridgeAdded", 1504: "interpreterCartridgeDeleted",
    1505: "interpreterResourceAdded", 1506: "interpreterResourceDeleted",
    1507: "interpreterResourceUnavailable", 1509: "interpreterComplexPageEncountered",
    1801: "alertRemovalOfBinaryChangeEntry",
}
MARKER_COUNTER_UNITS = {
    3: "ten_thousandths_of_inches", 4: "micrometers", 5: "characters", 6: "lines", 7: "impressions",
    8: "sheets", 9: "dot_row", 11: "hours", 16: "feet", 17: "meters",
}
INPUT_TYPES = {
    1: "other", 2: "unknown", 3: "sheet_feed_auto_removable_tray", 4: "sheet_feed_auto_non_removable_tray",
    5: "sheet_feed_manual", 6: "continuous_roll", 7: "continuous_fan_fold",
}


def detected_errors(raw: Raw, where: str, warnings: Warnings) -> list[str]:
    """Decode hrPrinterDetectedErrorState (an OCTET STRING bit map) to condition names."""
    if raw is None:
        return []
    if isinstance(raw, int) and not isinstance(raw, bool):
        # Some agents send the bitmap as an INTEGER; read it as big-endian octets.
        if raw < 0:
            warnings.add(where, f"negative error bitmap {raw}")
            return []
        width = max(1, (raw.bit_length() + 7) // 8)
        raw = raw.to_bytes(width, "big")
    if not isinstance(raw, bytes):
        warnings.add(where, f"expected an error bitmap, got {raw!r}")
        return []
    errors: list[str] = []
    for octet_index, octet in enumerate(raw[:4]):
        for bit in range(8):
            if octet & (0x80 >> bit):
                position = octet_index * 8 + bit
                if position < len(DETECTED_ERROR_BITS):
                    errors.append(DETECTED_ERROR_BITS[position])
                else:
                    errors.append(f"bit{position}")
    return errors
