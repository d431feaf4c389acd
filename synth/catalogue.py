"""Static reference data of the synthetic world: countries, chapters, routes, offices.

Shares are rough orders of magnitude of EU import traffic, enough to give the data
realistic shapes (one dominant origin, trading hubs, e-commerce from a few countries).
"""

from __future__ import annotations

from dataclasses import dataclass

# Origin countries and their share of declarations (relative weights).
ORIGIN_WEIGHTS: dict[str, float] = {
    "CN": 30, "US": 7, "GB": 6, "TR": 5, "IN": 4, "VN": 4, "CH": 4, "JP": 3, "KR": 3,
    "TW": 2, "TH": 2, "MY": 2, "BD": 2, "HK": 2, "ID": 1.5, "PK": 1.5, "BR": 1.5, "MA": 1.5,
    "UA": 1.5, "MX": 1, "CA": 1, "SG": 1, "AE": 1, "TN": 1, "RS": 1, "NO": 1, "ZA": 0.8,
    "KH": 0.8, "EG": 0.6, "IL": 0.6, "PH": 0.6, "AU": 0.5, "LK": 0.5, "CL": 0.4, "AR": 0.4,
    "BA": 0.4, "PE": 0.3, "CO": 0.3, "SA": 0.3, "CI": 0.3, "MK": 0.3, "KE": 0.2, "ET": 0.2,
    "NG": 0.2, "GH": 0.2, "AL": 0.2, "KZ": 0.2, "NZ": 0.2, "MM": 0.2, "GE": 0.1, "IS": 0.1,
}  # fmt: skip

REGIONS: dict[str, tuple[str, ...]] = {
    "far_east": ("CN", "JP", "KR", "TW", "TH", "MY", "ID", "VN", "HK", "SG", "KH", "PH", "MM",
                 "BD", "PK", "IN", "LK"),
    "near": ("TR", "GB", "CH", "NO", "UA", "RS", "BA", "MK", "AL", "MA", "TN", "EG", "IL", "GE",
             "IS"),
    "americas": ("US", "CA", "MX", "BR", "CL", "AR", "PE", "CO"),
    "other": ("AE", "SA", "ZA", "KE", "ET", "NG", "GH", "CI", "AU", "NZ", "KZ"),
}  # fmt: skip

# Business-to-business transport mode mix per region: maritime, air, road, rail.
B2B_MODES = ("maritime", "air", "road", "rail")
REGION_MODE_MIX: dict[str, tuple[float, float, float, float]] = {
    "far_east": (0.68, 0.27, 0.0, 0.05),
    "near": (0.25, 0.10, 0.60, 0.05),
    "americas": (0.70, 0.30, 0.0, 0.0),
    "other": (0.62, 0.33, 0.0, 0.05),
}

# Trading hubs whose sellers often sell goods of another origin.
TRADING_HUBS = ("HK", "SG", "AE", "CH", "GB", "US")
MANUFACTURING_ORIGINS = {"CN": 0.6, "VN": 0.1, "IN": 0.1, "BD": 0.05, "TH": 0.05, "TR": 0.1}

# E-commerce sellers by country.
ECOMMERCE_SELLER_COUNTRIES = {"CN": 0.6, "HK": 0.1, "US": 0.1, "GB": 0.1, "TR": 0.05, "KR": 0.05}

# Origins with a preferential trade agreement (duty relief when claimed).
PREFERENTIAL_ORIGINS = frozenset(
    [
        "KR",
        "JP",
        "VN",
        "CA",
        "MX",
        "CH",
        "NO",
        "TR",
        "GB",
        "MA",
        "TN",
        "EG",
        "IL",
        "SG",
        "CL",
        "CO",
        "PE",
        "ZA",
        "UA",
        "RS",
        "BA",
        "MK",
        "AL",
        "GE",
        "IS",
    ]
)

# Currencies in which sellers of a country invoice: (currency, probability) pairs.
INVOICE_CURRENCIES: dict[str, tuple[tuple[str, float], ...]] = {
    "CN": (("USD", 0.7), ("CNY", 0.3)),
    "US": (("USD", 1.0),),
    "GB": (("GBP", 0.8), ("EUR", 0.2)),
    "JP": (("JPY", 0.7), ("USD", 0.3)),
    "CH": (("CHF", 0.6), ("EUR", 0.4)),
    "TR": (("EUR", 0.5), ("USD", 0.3), ("TRY", 0.2)),
    "IN": (("USD", 0.8), ("INR", 0.2)),
    "KR": (("USD", 0.8), ("KRW", 0.2)),
    "HK": (("USD", 0.7), ("HKD", 0.3)),
}
DEFAULT_INVOICE_CURRENCIES = (("USD", 0.6), ("EUR", 0.4))

# Transit hubs per mode (countries an itinerary passes through).
TRANSIT_HUBS: dict[str, tuple[str, ...]] = {
    "maritime": ("SG", "AE", "LK", "MA", "EG", "MY", "ES", "PA"),
    "air": ("AE", "QA", "TR", "HK", "DE", "US"),
    "road": ("RS", "BG", "UA", "PL", "HU"),
    "rail": ("KZ", "RU", "BY", "PL"),
    "postal": ("AE", "HK", "BE", "DE"),
    "express": ("DE", "BE", "AE", "HK", "US"),
}
# Unusual transit countries of the planted air-security pattern.
RARE_AIR_TRANSITS = ("AM", "AZ", "KG", "TJ", "DJ", "MR")

# Lead time from ENS filing to expected arrival, in hours (low, high) per mode.
ENS_LEAD_HOURS: dict[str, tuple[float, float]] = {
    "maritime": (240, 960),
    "air": (4, 30),
    "road": (1, 4),
    "rail": (120, 400),
    "postal": (24, 120),
    "express": (4, 48),
}

# Carriers per mode: (how many, share that are AEO).
CARRIERS: dict[str, tuple[int, float]] = {
    "maritime": (14, 0.8),
    "air": (24, 0.6),
    "road": (300, 0.15),
    "rail": (6, 0.7),
    "postal": (5, 0.2),
    "express": (4, 1.0),
}

# Main ports/airports (UN/LOCODE suffixes) of the largest origins; others get "ZZZ".
LOADING_PLACES: dict[str, tuple[str, ...]] = {
    "CN": ("SHA", "NGB", "SZX", "QIN", "CAN", "PVG"),
    "US": ("NYC", "LAX", "SAV", "HOU"),
    "GB": ("FXT", "LHR", "SOU"),
    "TR": ("IST", "MER", "IZM"),
    "IN": ("NSA", "MAA", "BOM"),
    "VN": ("SGN", "HPH"),
    "JP": ("TYO", "YOK", "OSA"),
    "KR": ("PUS", "ICN"),
    "MY": ("PKG", "TPP"),
    "SG": ("SIN",),
    "HK": ("HKG",),
    "AE": ("JEA", "DXB"),
    "TH": ("LCH", "BKK"),
    "TW": ("KHH", "TPE"),
}

# Customs offices of the administration, by kind of border (suffix, share).
OFFICE_KINDS: dict[str, tuple[str, ...]] = {
    "maritime": ("000396", "000397", "000510"),
    "air": ("000854", "000855"),
    "road": ("000180", "000220", "000333"),
    "rail": ("000700",),
    "postal": ("000950",),
    "express": ("000851", "000852"),
}
OTHER_EU_ENTRY = ("DE", "BE", "FR", "IT", "ES", "PL")


@dataclass(frozen=True)
class Chapter:
    """An HS chapter and the shape of its trade."""

    code: str
    name: str
    log_value_per_kg: float  # EUR per kg, log scale
    log_mass_kg: float  # typical B2B consignment net mass, log scale
    duty_low: float
    duty_high: float
    units_per_kg: float | None  # supplementary units per kg, None when the tariff has none
    consumer: bool  # sold in e-commerce parcels
    weight: float  # share of declarations


CHAPTERS: tuple[Chapter, ...] = (
    Chapter("03", "Fish and crustaceans", 2.0, 7.5, 0.0, 0.15, None, False, 1.5),
    Chapter("08", "Edible fruit and nuts", 0.8, 8.5, 0.0, 0.12, None, False, 2.0),
    Chapter("09", "Coffee, tea and spices", 1.6, 7.5, 0.0, 0.08, None, False, 1.2),
    Chapter("22", "Beverages and spirits", 1.2, 8.0, 0.0, 0.10, None, False, 1.0),
    Chapter("24", "Tobacco", 3.0, 6.5, 0.10, 0.35, None, False, 0.4),
    Chapter("28", "Inorganic chemicals", 0.5, 8.5, 0.0, 0.055, None, False, 1.0),
    Chapter("29", "Organic chemicals", 1.5, 7.5, 0.0, 0.065, None, False, 2.0),
    Chapter("30", "Pharmaceutical products", 4.0, 5.0, 0.0, 0.0, None, False, 1.5),
    Chapter("33", "Perfumery and cosmetics", 2.8, 5.5, 0.0, 0.065, None, True, 1.5),
    Chapter("39", "Plastics and articles thereof", 1.0, 8.0, 0.0, 0.065, None, False, 4.0),
    Chapter("40", "Rubber and tyres", 1.0, 8.0, 0.025, 0.045, 0.1, False, 1.5),
    Chapter("42", "Leather articles and handbags", 3.0, 5.5, 0.02, 0.097, 1.0, True, 1.5),
    Chapter("44", "Wood and articles of wood", 0.2, 9.0, 0.0, 0.10, None, False, 1.5),
    Chapter("48", "Paper and paperboard", 0.3, 8.5, 0.0, 0.0, None, False, 1.5),
    Chapter("52", "Cotton", 1.2, 8.0, 0.0, 0.08, None, False, 1.0),
    Chapter("61", "Apparel, knitted or crocheted", 3.0, 6.5, 0.08, 0.12, 4.0, True, 5.0),
    Chapter("62", "Apparel, not knitted", 3.1, 6.5, 0.06, 0.12, 3.0, True, 4.5),
    Chapter("63", "Other made-up textile articles", 1.8, 7.0, 0.04, 0.12, None, False, 1.5),
    Chapter("64", "Footwear", 2.8, 6.5, 0.03, 0.17, 1.2, True, 3.0),
    Chapter("69", "Ceramic products", 0.6, 8.0, 0.0, 0.12, None, False, 1.0),
    Chapter("70", "Glass and glassware", 0.6, 8.0, 0.0, 0.11, None, False, 1.0),
    Chapter("71", "Jewellery and precious metals", 7.0, 1.5, 0.0, 0.04, None, True, 0.5),
    Chapter("72", "Iron and steel", -0.5, 10.0, 0.0, 0.0, None, False, 2.0),
    Chapter("73", "Articles of iron or steel", 0.5, 8.5, 0.0, 0.037, None, False, 3.0),
    Chapter("76", "Aluminium and articles thereof", 1.0, 9.0, 0.0, 0.075, None, False, 1.5),
    Chapter("84", "Machinery and mechanical appliances", 2.8, 6.5, 0.0, 0.045, 0.05, False, 10.0),
    Chapter("85", "Electrical machinery and electronics", 3.2, 5.5, 0.0, 0.14, 2.0, True, 12.0),
    Chapter("87", "Vehicles and parts", 2.0, 7.5, 0.03, 0.22, None, False, 4.0),
    Chapter("90", "Optical and medical instruments", 4.0, 4.5, 0.0, 0.067, None, False, 3.0),
    Chapter("91", "Clocks and watches", 5.0, 3.0, 0.03, 0.045, 10.0, True, 0.6),
    Chapter("93", "Arms and ammunition", 4.0, 4.0, 0.0, 0.032, None, False, 0.2),
    Chapter("94", "Furniture and lighting", 1.3, 7.5, 0.0, 0.057, None, False, 4.0),
    Chapter("95", "Toys, games and sports equipment", 1.8, 6.5, 0.0, 0.047, 2.0, True, 3.0),
    Chapter("96", "Miscellaneous manufactured articles", 1.8, 6.0, 0.0, 0.08, None, True, 1.5),
)

VARIANTS = (
    "of cotton", "of synthetic fibres", "of plastics", "of steel", "parts thereof",
    "assembled", "for retail sale", "other", "of wool", "unassembled", "of aluminium",
    "of wood", "in bulk", "electric", "manual", "frozen", "fresh", "dried",
)  # fmt: skip

# Chapters of the planted schemes.
RING_CHAPTERS = ("61", "62", "64", "85", "95", "42", "94")
SHELL_CHAPTERS = ("61", "62", "64", "85", "87", "24")
IPR_CHAPTERS = ("33", "42", "61", "62", "64", "71", "85", "91", "95")
SECURITY_CHAPTERS = ("28", "84", "85", "93")
ANTI_DUMPING_CHAPTERS = ("72", "73", "76", "69", "85", "87", "29")
LAUNDERING_TRANSIT_ORIGINS = ("MY", "VN", "TH", "TW", "KR", "ID")
RING_SELLER_COUNTRIES = ("CN", "HK", "TR", "AE", "IN")
COUNTERFEIT_SELLER_COUNTRIES = ("CN", "CN", "CN", "CN", "CN", "HK", "HK", "TR")
AIR_SECURITY_ORIGINS = ("AE", "TR", "CN", "IN", "PK", "GE")
# Concealment: chapters and ordinary origins that no other scheme targets.
CONCEALMENT_CHAPTERS = (
    "03",
    "08",
    "09",
    "22",
    "30",
    "39",
    "40",
    "44",
    "48",
    "52",
    "63",
    "70",
    "90",
)
CONCEALMENT_ORIGINS = ("US", "GB", "CH", "JP", "BD", "BR", "MA", "UA", "MX", "CA", "RS", "NO", "ZA")
VAT_RATE = 0.21
