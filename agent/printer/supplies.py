"""Supply semantics: the one place that turns prtMarkerSuppliesTable rows into `Supply` records.

Rules (DESIGN.md):
- raw ``level`` and ``max_capacity`` stay visible as the device sent them;
- level -1 = other (state ``other``), -2 = unknown (state ``unknown``), -3 = some remaining
  (state ``some_remaining``, percent null);
- ``percent`` only when level >= 0 and max > 0, clamped to 0..100, one decimal;
- a consumable is ``low`` at or below the configured threshold (``thresholds.supply_low_percent`` in the
  agent's configuration, default 10 %: the same number the alerts job uses), ``empty`` at level 0;
- a receptacle (class ``receptacle``, e.g. waste toner) reports how *full* it is: its percent is the
  fill level and its states are ``ok`` / ``near_full`` / ``full``, never silently inverted;
- ``type`` is normalised to toner, ink, drum, developer, waste_toner, fuser, transfer, maintenance_kit,
  staples or other; ``color`` comes from the colorant table when present, else from the description.

Vendor knowledge is data (`SupplyQuirks`, filled from the device's profile): the vendor's part-number
patterns, and quirks applied *before*
these rules: a level code that means a state rather than an amount (Brother 0..3, Ricoh -100), a
receptacle whose level is the remaining space rather than the fill (RFC 3805's own reading, which
most vendors ignore), a device that reports only a few coarse steps. The raw ``level`` always stays
as sent, and a supply a quirk changed names it in ``quirk``. The rules themselves never name a vendor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fleetmeter_contract.config import DEFAULTS
from fleetmeter_contract.reading import Supply

# thresholds.supply_low_percent when the configuration says nothing (the schema's default)
DEFAULT_LOW_PERCENT = float(DEFAULTS["thresholds"]["supply_low_percent"])
NEAR_FULL_PERCENT = 90.0

# prtMarkerSuppliesTypeTC (RFC 3805 / IANA-PRINTER-MIB) -> our normalised type
_RFC_TYPES: dict[int, str] = {
    1: "other", 2: "other", 3: "toner", 4: "waste_toner", 5: "ink", 6: "ink", 7: "ink",
    8: "waste_toner", 9: "drum", 10: "developer", 11: "fuser", 12: "ink", 13: "ink", 14: "waste_toner",
    15: "fuser", 16: "other", 17: "fuser", 18: "maintenance_kit", 19: "fuser", 20: "transfer",
    21: "toner", 22: "fuser", 23: "other", 24: "waste_toner", 25: "other", 26: "waste_toner",
    27: "other", 28: "other", 29: "staples", 30: "other", 31: "other", 32: "staples", 33: "other",
    34: "other", 35: "toner", 36: "ink",
}
RFC_TYPE_NAMES: dict[int, str] = {
    1: "other", 2: "unknown", 3: "toner", 4: "wasteToner", 5: "ink", 6: "inkCartridge", 7: "inkRibbon",
    8: "wasteInk", 9: "opc", 10: "developer", 11: "fuserOil", 12: "solidWax", 13: "ribbonWax",
    14: "wasteWax", 15: "fuser", 16: "coronaWire", 17: "fuserOilWick", 18: "cleanerUnit",
    19: "fuserCleaningPad", 20: "transferUnit", 21: "tonerCartridge", 22: "fuserOiler", 23: "water",
    24: "wasteWater", 25: "glueWaterAdditive", 26: "wastePaper", 27: "bindingSupply",
    28: "bandingSupply", 29: "stitchingWire", 30: "shrinkWrap", 31: "paperWrap", 32: "staples",
    33: "inserts", 34: "covers", 35: "matteToner", 36: "matteInk",
}
SUPPLY_CLASSES: dict[int, str] = {1: "other", 3: "consumed", 4: "receptacle"}
SUPPLY_UNITS: dict[int, str] = {
    1: "other", 2: "unknown", 3: "ten_thousandths_of_inches", 4: "micrometers", 7: "impressions",
    8: "sheets", 11: "hours", 12: "thousandths_of_ounces", 13: "tenths_of_grams",
    14: "hundredths_of_fluid_ounces", 15: "tenths_of_milliliters", 16: "feet", 17: "meters",
    18: "items", 19: "percent",
}

# Description keywords, several languages; first match wins, so specific before generic.
_TYPE_WORDS: list[tuple[str, str]] = [
    ("waste_toner", r"waste|resid|usag|r[ée]cup|altton|abfall|rest ?toner|resttoner|collect|"
                    r"tonerbeh[äa]lter f|behälter für|vaschetta|recipiente|déchet|dechet|pojemnik na zu"),
    ("maintenance_kit", r"maint|wartung|entretien|manutenzione|mantenimiento|onderhoud"),
    ("fuser", r"fuser|fixier|fusion|fusore|fixa|fixing"),
    ("transfer", r"transfer|[üu]bertragung|trasferimento|courroie|belt|\bitb\b|\bitu\b"),
    ("drum", r"drum|trommel|tambour|tamburo|tambor|\bopc\b|photoconductor|imaging unit|bildtrommel|"
             r"belichtungseinheit|unit[ée] d'imagerie|fotoconduttore"),
    ("developer", r"develop|entwickler|d[ée]veloppeur|sviluppatore|revelador"),
    ("staples", r"stapl|heftklammer|agrafe|graffett|grapas|nietjes"),
    ("ink", r"\bink\b|tinte|encre|inchiostro|tinta|\binkt\b"),
    ("toner", r"toner|cartridge|cartouche|kartusche|cartuccia|cartucho|patrone"),
]
_TYPE_PATTERNS = [(kind, re.compile(words, re.I)) for kind, words in _TYPE_WORDS]

# Colour words, several languages -> canonical colour.  Order: compound colours first.
_COLOR_WORDS: list[tuple[str, str]] = [
    ("light_cyan", r"light ?cyan|photo ?cyan|hell ?cyan|cyan clair|ciano chiaro|cian claro|\blc\b"),
    ("light_magenta", r"light ?magenta|photo ?magenta|hell ?magenta|magenta clair|magenta chiaro|\blm\b"),
    ("light_black", r"light ?black|light ?gr[ae]y|hellgrau|gris clair"),
    ("matte_black", r"matte? ?black|mattschwarz|noir mat"),
    ("photo_black", r"photo ?black|fotoschwarz|noir photo"),
    ("black", r"black|schwarz|noir|\bnero\b|negro|preto|zwart|svart|musta|czarn|черн|黒|ブラック|"
              r"\bbk\b|\(k\)|\bk\b"),
    ("cyan", r"cyan|\bcian|ciano|cyaan|シアン|голуб|\(c\)"),
    ("magenta", r"magenta|マゼンタ|пурпур|\(m\)"),
    ("yellow", r"yellow|\bgelb|jaune|giallo|amarill|amarelo|\bgeel|\bgul\b|keltainen|żółt|zolt|イエロー|"
               r"желт|\(y\)"),
    ("gray", r"\bgr[ae]y\b|\bgrau\b|\bgris\b|grigio"),
    ("red", r"\bred\b|\brot\b|\brouge\b|\brosso\b"),
    ("blue", r"\bblue\b|\bblau\b|\bbleu\b"),
    ("green", r"\bgreen\b|\bgr[üu]n\b|\bvert\b"),
    ("white", r"\bwhite\b|\bwei[ßs]\b|\bblanc\b"),
    ("clear", r"\bclear\b|transparent"),
]
_COLOR_PATTERNS = [(color, re.compile(words, re.I)) for color, words in _COLOR_WORDS]
_TRICOLOR = re.compile(r"tri-?colou?r|cmy\b|colou?r (ink|cartridge)", re.I)


@dataclass(frozen=True)
class LevelCode:
    """A raw level value that means a state, not an amount (applies only where its conditions hold)."""

    level: int
    state: str
    percent: float | None = None
    only_without_capacity: bool = False  # only when prtMarkerSuppliesMaxCapacity is not > 0
    receptacle: bool | None = None  # None: any class; True/False: only receptacles / consumables


@dataclass(frozen=True)
class SupplyQuirks:
    """What a vendor's supply levels mean when they depart from RFC 3805 (from the profile)."""

    source: str = ""  # the profile's name, shown in Supply.quirk
    level_codes: tuple[LevelCode, ...] = ()
    receptacle_level_is_remaining: bool = False  # waste level counts free space: fill = max - level
    level_step: float | None = None  # levels in percent (max 100) move in steps of this size
    part_numbers: tuple[re.Pattern[str], ...] = ()  # the vendor's order numbers as written in descriptions

    def __bool__(self) -> bool:
        return bool(self.level_codes or self.receptacle_level_is_remaining or self.level_step)

    def part_number(self, description: str | None) -> str | None:
        """An order number in the description (HP "CF217A", Kyocera "TK-5240K"), by the profile's patterns."""
        for pattern in self.part_numbers if description else ():
            match = pattern.search(description or "")
            if match:
                return (match.group(1) if match.groups() else match.group(0)).strip() or None
        return None


NO_QUIRKS = SupplyQuirks()


@dataclass(frozen=True)
class RawSupply:
    """One row of prtMarkerSuppliesTable after value decoding (still raw RFC 3805 numbers)."""

    device_index: int
    index: int
    description: str | None = None
    type_code: int | None = None
    class_code: int | None = None
    unit_code: int | None = None
    max_capacity: int | None = None
    level: int | None = None
    colorant: str | None = None  # prtMarkerColorantValue of the row's colorant, when present
    part_number: str | None = None  # when the profile found one in the description
    serial: str | None = None
    kind: str | None = None  # the normalised type, when the source names it (a vendor record)
    pages_remaining: int | None = None  # the printer's own estimate of pages left (a vendor record)


def supply_type(type_code: int | None, description: str | None) -> str:
    """Normalised supply type: the RFC type, refined by the description where the RFC type is vague."""
    from_rfc = _RFC_TYPES.get(type_code or 0)
    if from_rfc not in (None, "other") and not (from_rfc == "toner" and _is_waste(description)):
        return from_rfc
    if description:
        for kind, pattern in _TYPE_PATTERNS:
            if pattern.search(description):
                return kind
    return from_rfc or "other"


def color_from_text(text: str | None) -> str | None:
    if not text:
        return None
    for color, pattern in _COLOR_PATTERNS:
        if pattern.search(text):
            return color
    if _TRICOLOR.search(text):
        return "tricolor"
    return None


def supply_class(class_code: int | None, kind: str) -> str | None:
    name = SUPPLY_CLASSES.get(class_code or 0)
    if name in ("consumed", "receptacle"):
        return name
    return "receptacle" if kind == "waste_toner" else "consumed"


def level_percent(level: int | None, max_capacity: int | None) -> float | None:
    if level is None or max_capacity is None or level < 0 or max_capacity <= 0:
        return None
    return round(min(100.0, max(0.0, level * 100.0 / max_capacity)), 1)


def level_state(level: int | None, max_capacity: int | None, receptacle: bool,
                low_percent: float = DEFAULT_LOW_PERCENT) -> str:
    if level is None or level == -2:
        return "unknown"
    if level == -1:
        return "other"
    if level == -3:
        return "some_remaining"
    if level < 0:
        return "unknown"
    percent = level_percent(level, max_capacity)
    if receptacle:
        if percent is None:
            return "unknown" if level > 0 else "ok"
        if percent >= 100.0:
            return "full"
        return "near_full" if percent >= NEAR_FULL_PERCENT else "ok"
    if level == 0:
        return "empty"
    if percent is None:
        return "some_remaining"
    return "low" if percent <= low_percent else "ok"


def build_supply(raw: RawSupply, quirks: SupplyQuirks = NO_QUIRKS, low_percent: float = DEFAULT_LOW_PERCENT) -> Supply:
    kind = raw.kind or supply_type(raw.type_code, raw.description)
    klass = supply_class(raw.class_code, kind)
    receptacle = klass == "receptacle"
    percent = level_percent(raw.level, raw.max_capacity)
    state = level_state(raw.level, raw.max_capacity, receptacle, low_percent)
    quirk = None
    adjusted = _apply_quirks(raw, receptacle, quirks, low_percent)
    if adjusted is not None:
        percent, state, quirk = adjusted
    color = color_from_text(raw.colorant) or color_from_text(raw.description)
    if color is None and kind in ("toner", "ink") and raw.description and _mono_hint(raw.description):
        color = "black"
    return Supply(
        index=raw.index,
        device_index=raw.device_index,
        description=raw.description,
        type=kind,
        color=color,
        class_=klass,
        unit=SUPPLY_UNITS.get(raw.unit_code) if raw.unit_code is not None else None,
        level=raw.level,
        max_capacity=raw.max_capacity,
        percent=percent,
        pages_remaining=raw.pages_remaining,
        state=state,
        part_number=raw.part_number or quirks.part_number(raw.description),
        serial=raw.serial,
        quirk=quirk,
    )


def _apply_quirks(raw: RawSupply, receptacle: bool, quirks: SupplyQuirks,
                  low_percent: float) -> tuple[float | None, str, str] | None:
    """(percent, state, explanation) when a vendor quirk decides this row, else None."""
    if not quirks or raw.level is None:
        return None
    has_capacity = raw.max_capacity is not None and raw.max_capacity > 0
    for code in quirks.level_codes:
        if code.level != raw.level or (code.only_without_capacity and has_capacity):
            continue
        if code.receptacle is not None and code.receptacle != receptacle:
            continue
        return code.percent, code.state, f"{quirks.source}: level {raw.level} means {code.state}"
    if receptacle and quirks.receptacle_level_is_remaining and raw.level >= 0 and has_capacity:
        fill = max(0, raw.max_capacity - raw.level)  # type: ignore[operator]
        return (level_percent(fill, raw.max_capacity), level_state(fill, raw.max_capacity, True),
                f"{quirks.source}: level is the remaining space; percent is how full")
    if quirks.level_step and raw.level >= 0 and raw.max_capacity == 100 and not receptacle:
        percent = level_percent(raw.level, raw.max_capacity)
        state = level_state(raw.level, raw.max_capacity, False, low_percent)
        if percent is not None and 0 < percent <= quirks.level_step and state == "ok":
            state = "low"  # the last step before empty: the real level may be just above zero
        return percent, state, f"{quirks.source}: level reported in steps of {quirks.level_step:g} %"
    return None


def _is_waste(description: str | None) -> bool:
    return bool(description) and bool(_TYPE_PATTERNS[0][1].search(description or ""))


def _mono_hint(description: str) -> bool:
    return bool(re.search(r"\bmono|\bblk\b", description, re.I))
