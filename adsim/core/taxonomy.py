"""The fixed vocabulary of the world: categories, attribute values, their words and looks.

Each attribute value carries three word lists: words both titles and queries use, words only
sellers use in titles, and words only shoppers use in queries. The split is the vocabulary gap
of real search: a lexical matcher misses what an embedding that learned the synonyms finds.
Silhouettes are a pure function of a constant seed, so they are the same in every world.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Words:
    """Surface forms of one attribute value."""

    shared: tuple[str, ...]
    title_only: tuple[str, ...]
    query_only: tuple[str, ...]


def _words(spec: str) -> Words:
    """Parse 'shared|title,title|query,query' (comma-separated lists)."""
    parts = [tuple(w.strip() for w in p.split(",") if w.strip()) for p in spec.split("|")]
    return Words(*parts)


TOP_CATEGORIES = ("tops", "bottoms", "footwear", "bags", "home", "electronics", "toys", "beauty")
TOP_WORDS = tuple(_words(s) for s in (
    "top|apparel,clothing|shirts", "bottoms|pants wear,legwear|pants", "shoes|footwear,shoe|kicks",
    "bag|bags,luggage|carry", "home|home decor,homeware|decor", "electronics|tech,gadget|device",
    "toy|toys,kids|gift for kids", "beauty|cosmetics,makeup|skincare",
))

# (leaf name, words); five leaves per top category, in TOP_CATEGORIES order.
_LEAVES = (
    ("t-shirt", "t-shirt|tee,crewneck tee|tshirt,top"), ("shirt", "shirt|button-down,oxford|blouse,dress shirt"),
    ("sweater", "sweater|pullover,jumper|knitwear,sweatshirt"), ("hoodie", "hoodie|hooded sweatshirt,zip hoodie|hoody,hooded top"),
    ("jacket", "jacket|bomber,windbreaker|coat,outerwear"),
    ("jeans", "jeans|denim,denim pants|jean,denims"), ("skirt", "skirt|mini skirt,a-line skirt|midi,skort"),
    ("shorts", "shorts|bermuda,board shorts|short pants,cutoffs"), ("trousers", "trousers|chinos,slacks|pants,work pants"),
    ("leggings", "leggings|tights,yoga pants|jeggings,legging"),
    ("sneakers", "sneakers|trainers,running shoes|tennis shoes,kicks"), ("boots", "boots|ankle boots,chelsea boots|booties,winter boots"),
    ("sandals", "sandals|slides,flip flops|sandal,thongs"), ("heels", "heels|pumps,stilettos|high heels,court shoes"),
    ("slippers", "slippers|house shoes,mules|slipper,indoor shoes"),
    ("backpack", "backpack|rucksack,daypack|school bag,bookbag"), ("handbag", "handbag|purse,shoulder bag|hand bag,clutch"),
    ("tote", "tote|tote bag,shopper|canvas bag,beach bag"), ("wallet", "wallet|billfold,card holder|money clip,coin purse"),
    ("suitcase", "suitcase|luggage,trolley case|carry on,roller bag"),
    ("lamp", "lamp|desk lamp,table light|light,reading lamp"), ("vase", "vase|flower vase,vessel|flower pot,jar"),
    ("mug", "mug|coffee mug,cup|tea cup,tumbler"), ("cushion", "cushion|throw pillow,pillow cover|pillow,sofa cushion"),
    ("clock", "clock|wall clock,timepiece|alarm clock,clocks"),
    ("headphones", "headphones|headset,over-ear|earphones,headphone"), ("phone case", "phone case|phone cover,bumper|iphone case,case"),
    ("speaker", "speaker|bluetooth speaker,soundbox|boombox,speakers"), ("smartwatch", "smartwatch|smart watch,fitness watch|watch,fitness tracker"),
    ("keyboard", "keyboard|mechanical keyboard,keypad|keys,gaming keyboard"),
    ("teddy bear", "teddy bear|plush bear,stuffed animal|teddy,soft toy"), ("building blocks", "building blocks|brick set,construction set|lego,blocks"),
    ("toy car", "toy car|die-cast car,model car|car toy,race car"), ("ball", "ball|football,soccer ball|kickball,play ball"),
    ("kite", "kite|stunt kite,delta kite|kites,flying toy"),
    ("lipstick", "lipstick|lip color,lip stick|lippie,lip tint"), ("perfume", "perfume|eau de parfum,fragrance|scent,cologne"),
    ("nail polish", "nail polish|nail lacquer,nail varnish|nail paint,polish"), ("face cream", "face cream|moisturizer,day cream|lotion,skin cream"),
    ("hair brush", "hair brush|paddle brush,detangler|hairbrush,comb"),
)
LEAVES = tuple(name for name, _ in _LEAVES)
LEAF_WORDS = tuple(_words(spec) for _, spec in _LEAVES)
LEAVES_PER_TOP = 5
LEAF_TOP = np.repeat(np.arange(len(TOP_CATEGORIES), dtype=np.int16), LEAVES_PER_TOP)

# (name, RGB in [0, 1], words)
_COLOURS = (
    ("red", (0.82, 0.12, 0.12), "red|crimson,scarlet|cherry,dark red"),
    ("orange", (0.95, 0.52, 0.10), "orange|tangerine,amber|pumpkin,bright orange"),
    ("yellow", (0.96, 0.85, 0.15), "yellow|lemon,mustard|golden,sunny"),
    ("green", (0.20, 0.62, 0.25), "green|emerald,olive|grass green,forest"),
    ("teal", (0.08, 0.58, 0.58), "teal|turquoise,aqua|blue green,cyan"),
    ("blue", (0.18, 0.40, 0.85), "blue|cobalt,azure|sky blue,royal blue"),
    ("navy", (0.08, 0.12, 0.38), "navy|midnight,marine|dark blue,navy blue"),
    ("purple", (0.50, 0.22, 0.65), "purple|violet,plum|lilac,lavender"),
    ("pink", (0.96, 0.55, 0.72), "pink|rose,blush|light pink,hot pink"),
    ("brown", (0.48, 0.30, 0.16), "brown|chocolate,tan|coffee,camel"),
    ("black", (0.07, 0.07, 0.07), "black|jet,onyx|dark,all black"),
    ("white", (0.97, 0.97, 0.95), "white|ivory,snow|off white,cream"),
    ("grey", (0.55, 0.55, 0.57), "grey|charcoal,ash|gray,silver"),
    ("beige", (0.87, 0.78, 0.62), "beige|khaki,sand|nude,oatmeal"),
)
COLOURS = tuple(c[0] for c in _COLOURS)
COLOUR_RGB = np.array([c[1] for c in _COLOURS], dtype=np.float32)
COLOUR_WORDS = tuple(_words(c[2]) for c in _COLOURS)

_PATTERNS = (
    ("solid", "solid|plain,solid color|no print,one color"),
    ("striped", "striped|stripe,breton|stripes,lined"),
    ("pinstripe", "pinstripe|pin striped,fine stripe|thin stripe,pin stripes"),
    ("plaid", "plaid|checked,tartan|checkered,gingham"),
    ("polka dot", "polka dot|dotted,spotted|dots,spots"),
    ("diagonal", "diagonal|twill,bias stripe|slanted stripes,diagonal lines"),
    ("gradient", "gradient|ombre,dip dye|fade,two tone"),
    ("knit", "knit|textured,woven|knitted,cable"),
    ("zigzag", "zigzag|chevron,wave|zig zag,wavy"),
)
PATTERNS = tuple(p[0] for p in _PATTERNS)
PATTERN_WORDS = tuple(_words(p[1]) for p in _PATTERNS)

# (name, words, shape: x scale, y scale, corner exponent multiplier, outline width)
_STYLES = (
    ("classic", "classic|timeless,heritage|traditional,basic", (1.00, 1.00, 1.0, 0.06)),
    ("sporty", "sporty|athletic,performance|sport,gym", (0.88, 1.10, 1.4, 0.04)),
    ("vintage", "vintage|retro,antique|old school,80s", (1.08, 0.94, 0.75, 0.10)),
    ("minimalist", "minimalist|minimal,clean|simple,plain style", (0.86, 0.86, 2.2, 0.02)),
    ("luxury", "luxury|deluxe,opulent|fancy,glam", (1.00, 1.08, 1.0, 0.14)),
    ("casual", "casual|everyday,relaxed|comfy,weekend", (1.12, 1.00, 0.9, 0.06)),
    ("streetwear", "streetwear|urban,hip-hop|street,skater", (1.20, 0.90, 1.6, 0.08)),
)
STYLES = tuple(s[0] for s in _STYLES)
STYLE_WORDS = tuple(_words(s[1]) for s in _STYLES)
STYLE_SHAPE = np.array([s[2] for s in _STYLES], dtype=np.float32)

N_PRICE_TIERS = 5
PRICE_TIER_WORDS = (
    _words("budget|economy,value pack|cheap,low price"), None, None, None,
    _words("high-end|exclusive,signature|expensive,high end"),
)
STUFFING = ("hot sale", "new arrival", "free shipping", "2026", "best seller", "limited", "official",
            "fashion", "gift", "trending", "original", "top rated")

_BRAND_SYLLABLES = ("ka", "lo", "mi", "ra", "ven", "tor", "zi", "bel", "nor", "qua", "lux", "sol",
                    "dra", "fen", "mar", "ori", "pex", "tal", "vio", "zen", "ar", "co", "del", "eko")

N_PRIMITIVES = 3
_SHAPE_SEED = 20260101


def brand_names(n: int, rng: np.random.Generator) -> tuple[str, ...]:
    """`n` distinct pronounceable brand names."""
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < n:
        k = 2 if rng.random() < 0.6 else 3
        name = "".join(rng.choice(_BRAND_SYLLABLES, size=k)).capitalize()
        if name not in seen:
            seen.add(name)
            names.append(name)
    return tuple(names)


@dataclass(frozen=True)
class Silhouettes:
    """Per-leaf union of up to N_PRIMITIVES superellipses, in object coordinates [-1, 1]².

    Each array is (n_leaves, N_PRIMITIVES). Leaves of one top category share their first
    primitive (a family body) and differ in the others, so leaf recognition is fine-grained.
    """

    active: np.ndarray
    cx: np.ndarray
    cy: np.ndarray
    half_w: np.ndarray
    half_h: np.ndarray
    exponent: np.ndarray
    angle: np.ndarray


def _make_silhouettes() -> Silhouettes:
    rng = np.random.default_rng(_SHAPE_SEED)
    n_leaves, p = len(LEAVES), N_PRIMITIVES
    arr = {k: np.zeros((n_leaves, p), dtype=np.float32) for k in ("cx", "cy", "half_w", "half_h", "exponent", "angle")}
    active = np.zeros((n_leaves, p), dtype=bool)
    exponents = np.array([1.3, 2.0, 3.0, 6.0], dtype=np.float32)
    for top in range(len(TOP_CATEGORIES)):
        body = (rng.uniform(-0.1, 0.1), rng.uniform(-0.1, 0.15), rng.uniform(0.32, 0.55),
                rng.uniform(0.32, 0.55), rng.choice(exponents), rng.uniform(-0.3, 0.3))
        for leaf in range(top * LEAVES_PER_TOP, (top + 1) * LEAVES_PER_TOP):
            values = [body]
            for _ in range(int(rng.integers(1, p))):
                values.append((rng.uniform(-0.5, 0.5), rng.uniform(-0.55, 0.55), rng.uniform(0.1, 0.32),
                               rng.uniform(0.08, 0.3), rng.choice(exponents), rng.uniform(-1.2, 1.2)))
            for j, (cx, cy, w, h, e, a) in enumerate(values):
                active[leaf, j] = True
                for key, v in zip(("cx", "cy", "half_w", "half_h", "exponent", "angle"), (cx, cy, w, h, e, a)):
                    arr[key][leaf, j] = v
    return Silhouettes(active=active, **arr)


SILHOUETTES = _make_silhouettes()
