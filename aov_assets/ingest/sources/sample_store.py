"""What the sample store's REST API lists: customer groups, store views and their configs, the
catalog with its category tree, and the words its Companies are named with."""

CUSTOMER_GROUPS = (
    {"id": 0, "code": "NOT LOGGED IN", "tax_class_id": 3, "tax_class_name": "Retail Customer"},
    {"id": 1, "code": "General", "tax_class_id": 3, "tax_class_name": "Retail Customer"},
    {"id": 2, "code": "Wholesale", "tax_class_id": 3, "tax_class_name": "Retail Customer"},
    {"id": 3, "code": "Retailer", "tax_class_id": 3, "tax_class_name": "Retail Customer"},
    {"id": 4, "code": "Facilities Contract", "tax_class_id": 3, "tax_class_name": "Retail Customer"},
)
STORE_VIEWS = (
    {"id": 0, "code": "admin", "name": "Admin", "website_id": 0, "store_group_id": 0, "is_active": 1},
    {"id": 1, "code": "default", "name": "Retail Store", "website_id": 1, "store_group_id": 1, "is_active": 1},
    {"id": 2, "code": "trade", "name": "Trade Portal", "website_id": 1, "store_group_id": 1, "is_active": 1},
)
STORE_CONFIGS = tuple(
    {
        "id": view["id"],
        "code": view["code"],
        "website_id": 1,
        "locale": "en_US",
        "base_currency_code": "USD",
        "default_display_currency_code": "USD",
        "timezone": "America/Chicago",
        "weight_unit": "lbs",
        "base_url": "https://shop.example.com/",
    }
    for view in STORE_VIEWS
    if view["id"]
)

# (name, sku, configurable options, typical unit price in cents)
CATALOG = (
    ("Trash Can Liners 55 gal, case of 100", "JS-LNR-55", (), 4_895),
    ("Nitrile Exam Gloves, box of 100", "JS-GLV-NIT", ("S", "M", "L", "XL"), 1_299),
    ("Paper Towel Rolls, case of 12", "JS-PT-12", (), 3_450),
    ("Toilet Tissue 2-ply, case of 96", "JS-TT-96", (), 6_995),
    ("Floor Cleaner Concentrate 1 gal", "JS-FLR-1G", (), 2_195),
    ("Disinfectant Wipes, canister of 80", "JS-DW-80", (), 849),
    ("Microfiber Cloths, pack of 24", "JS-MFC-24", ("Blue", "Green", "Yellow"), 2_499),
    ("Foaming Hand Soap Refill 1 L", "JS-HS-1L", ("Unscented", "Citrus"), 1_150),
    ("Glass Cleaner 32 oz", "JS-GLS-32", (), 499),
    ("Cotton Wet Mop Head 24 oz", "JS-MOP-24", (), 1_375),
    ("Commercial Mop Bucket with Wringer", "JS-BKT-35", ("Yellow", "Grey"), 8_999),
    ("Hand Sanitizer Gel 1 gal", "JS-SAN-1G", (), 2_899),
    ("Multi-fold Paper Towels, case of 4000", "JS-MFT-4K", (), 3_899),
    ("Heavy-Duty Degreaser 1 gal", "JS-DGR-1G", (), 2_650),
    ("Nitrile Utility Gloves, pair", "JS-GLV-UTL", ("M", "L", "XL"), 399),
    ("Urinal Screens, pack of 10", "JS-URS-10", ("Mango", "Cotton"), 1_899),
    ("Dust Mop Frame 24 in", "JS-DMF-24", (), 1_599),
    ("Bleach Germicidal 121 oz", "JS-BLC-121", (), 799),
    ("Wet Floor Sign", "JS-WFS", (), 1_799),
    ("Vacuum Bags, pack of 10", "JS-VAC-10", ("Upright", "Backpack"), 2_199),
)

CATEGORIES = {  # sku -> category path, as the store's category tree names it
    "JS-LNR-55": "Janitorial/Can Liners",
    "JS-GLV-NIT": "Janitorial/Gloves & PPE",
    "JS-GLV-UTL": "Janitorial/Gloves & PPE",
    "JS-PT-12": "Janitorial/Paper",
    "JS-TT-96": "Janitorial/Paper",
    "JS-MFT-4K": "Janitorial/Paper",
    "JS-FLR-1G": "Janitorial/Chemicals",
    "JS-DW-80": "Janitorial/Chemicals",
    "JS-GLS-32": "Janitorial/Chemicals",
    "JS-DGR-1G": "Janitorial/Chemicals",
    "JS-BLC-121": "Janitorial/Chemicals",
    "JS-MFC-24": "Janitorial/Equipment",
    "JS-MOP-24": "Janitorial/Equipment",
    "JS-BKT-35": "Janitorial/Equipment",
    "JS-DMF-24": "Janitorial/Equipment",
    "JS-WFS": "Janitorial/Equipment",
    "JS-VAC-10": "Janitorial/Equipment",
    "JS-HS-1L": "Janitorial/Hand & Restroom Care",
    "JS-SAN-1G": "Janitorial/Hand & Restroom Care",
    "JS-URS-10": "Janitorial/Hand & Restroom Care",
}
LEFT_THE_BASKETS = "Janitorial/Equipment"  # what mid-tier and small accounts stop adding in the current window

COMPANY_WORDS = (
    (
        "Harbor",
        "Summit",
        "Prairie",
        "Lakeside",
        "Granite",
        "Cedar",
        "Metro",
        "Riverbend",
        "Northgate",
        "Bluebird",
        "Ironwood",
        "Pioneer",
        "Keystone",
        "Sunrise",
        "Westfield",
    ),
    (
        "Facilities",
        "Property",
        "Schools",
        "Medical",
        "Hospitality",
        "Office Parks",
        "Logistics",
        "Fitness",
        "Senior Living",
        "Dental",
        "Restaurants",
        "Municipal",
    ),
    ("Group", "Services", "Management", "Partners", "LLC", "Inc", "Co", "District"),
)
