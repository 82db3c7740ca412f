"""The replacement vocabulary: the COCO 80 things plus common extras, each with what plausibility checks need.

Per category: a typical physical size class (``tiny`` a few centimetres: a coin, a badge; ``small`` fits in a hand
or on a tray; ``medium`` up to about a person's height or a metre across; ``large`` bigger than that), where it is
usually found (``indoor``/``outdoor``/``any``), a coarse group (used for prompt adjectives and a mild role bonus) and an
unambiguous description. The description is what gets embedded: "mouse" in COCO is a computer mouse, "bat" a
baseball bat, and embedding the bare word would drag in the animal sense (the mouse -> rat trap).

The table is hand-made, so it encodes judgement; keep entries conservative (``any`` when unsure about the setting).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SIZE_CLASSES = ("tiny", "small", "medium", "large")
SETTINGS = ("indoor", "outdoor", "any")


@dataclass(frozen=True)
class Category:
    name: str
    size: str  # one of SIZE_CLASSES
    setting: str  # one of SETTINGS
    group: str  # coarse role: animal, vehicle, furniture, food, kitchenware, electronics, ...
    description: str  # unambiguous text for the embedding model
    coco: bool = True


def _c(name, size, setting, group, description=None, coco=True) -> Category:
    return Category(name, size, setting, group, description or name, coco)


# fmt: off
COCO_CATEGORIES: tuple[Category, ...] = (
    _c("person", "medium", "any", "person", "a person"),
    _c("bicycle", "medium", "outdoor", "vehicle"),
    _c("car", "large", "outdoor", "vehicle"),
    _c("motorcycle", "large", "outdoor", "vehicle"),
    _c("airplane", "large", "outdoor", "vehicle", "an airplane"),
    _c("bus", "large", "outdoor", "vehicle"),
    _c("train", "large", "outdoor", "vehicle"),
    _c("truck", "large", "outdoor", "vehicle"),
    _c("boat", "large", "outdoor", "vehicle"),
    _c("traffic light", "medium", "outdoor", "street"),
    _c("fire hydrant", "medium", "outdoor", "street"),
    _c("stop sign", "medium", "outdoor", "street"),
    _c("parking meter", "medium", "outdoor", "street"),
    _c("bench", "medium", "outdoor", "furniture", "a park bench"),
    _c("bird", "small", "outdoor", "animal"),
    _c("cat", "medium", "any", "animal", "a cat"),
    _c("dog", "medium", "any", "animal", "a dog"),
    _c("horse", "large", "outdoor", "animal"),
    _c("sheep", "medium", "outdoor", "animal"),
    _c("cow", "large", "outdoor", "animal"),
    _c("elephant", "large", "outdoor", "animal"),
    _c("bear", "large", "outdoor", "animal", "a bear (animal)"),
    _c("zebra", "large", "outdoor", "animal"),
    _c("giraffe", "large", "outdoor", "animal"),
    _c("backpack", "medium", "any", "accessory"),
    _c("umbrella", "medium", "any", "accessory"),
    _c("handbag", "small", "any", "accessory"),
    _c("tie", "small", "any", "accessory", "a necktie"),
    _c("suitcase", "medium", "any", "accessory"),
    _c("frisbee", "small", "outdoor", "sports"),
    _c("skis", "medium", "outdoor", "sports", "a pair of skis"),
    _c("snowboard", "medium", "outdoor", "sports"),
    _c("sports ball", "small", "any", "sports", "a ball for sports"),
    _c("kite", "medium", "outdoor", "sports", "a kite (flying toy)"),
    _c("baseball bat", "small", "outdoor", "sports"),
    _c("baseball glove", "small", "outdoor", "sports"),
    _c("skateboard", "medium", "outdoor", "sports"),
    _c("surfboard", "medium", "outdoor", "sports"),
    _c("tennis racket", "small", "outdoor", "sports"),
    _c("bottle", "small", "any", "kitchenware"),
    _c("wine glass", "small", "indoor", "kitchenware"),
    _c("cup", "small", "any", "kitchenware", "a cup"),
    _c("fork", "small", "indoor", "kitchenware"),
    _c("knife", "small", "indoor", "kitchenware", "a kitchen knife"),
    _c("spoon", "small", "indoor", "kitchenware"),
    _c("bowl", "small", "indoor", "kitchenware"),
    _c("banana", "small", "any", "food"),
    _c("apple", "small", "any", "food", "an apple (fruit)"),
    _c("sandwich", "small", "any", "food"),
    _c("orange", "small", "any", "food", "an orange (fruit)"),
    _c("broccoli", "small", "indoor", "food"),
    _c("carrot", "small", "indoor", "food"),
    _c("hot dog", "small", "any", "food", "a hot dog sandwich"),
    _c("pizza", "small", "any", "food"),
    _c("donut", "small", "any", "food"),
    _c("cake", "small", "indoor", "food"),
    _c("chair", "medium", "indoor", "furniture"),
    _c("couch", "large", "indoor", "furniture", "a couch (sofa)"),
    _c("potted plant", "medium", "any", "decor"),
    _c("bed", "large", "indoor", "furniture"),
    _c("dining table", "large", "indoor", "furniture"),
    _c("toilet", "medium", "indoor", "fixture"),
    _c("tv", "medium", "indoor", "electronics", "a television"),
    _c("laptop", "small", "indoor", "electronics", "a laptop computer"),
    _c("mouse", "small", "indoor", "electronics", "a computer mouse"),
    _c("remote", "small", "indoor", "electronics", "a TV remote control"),
    _c("keyboard", "small", "indoor", "electronics", "a computer keyboard"),
    _c("cell phone", "small", "any", "electronics", "a mobile phone"),
    _c("microwave", "medium", "indoor", "appliance", "a microwave oven"),
    _c("oven", "medium", "indoor", "appliance", "a kitchen oven"),
    _c("toaster", "small", "indoor", "appliance"),
    _c("sink", "medium", "indoor", "fixture", "a sink"),
    _c("refrigerator", "large", "indoor", "appliance"),
    _c("book", "small", "indoor", "decor"),
    _c("clock", "small", "any", "decor"),
    _c("vase", "small", "indoor", "decor"),
    _c("scissors", "small", "indoor", "tool"),
    _c("teddy bear", "small", "indoor", "toy", "a teddy bear (toy)"),
    _c("hair drier", "small", "indoor", "appliance", "a hair dryer"),
    _c("toothbrush", "small", "indoor", "tool"),
)

# Common objects outside COCO that a diffusion model draws well and that make plausible swaps.
EXTRA_CATEGORIES: tuple[Category, ...] = (
    _c("armchair", "medium", "indoor", "furniture", coco=False),
    _c("stool", "medium", "indoor", "furniture", "a bar stool", coco=False),
    _c("bookshelf", "large", "indoor", "furniture", coco=False),
    _c("coffee table", "medium", "indoor", "furniture", coco=False),
    _c("desk", "large", "indoor", "furniture", "a wooden writing desk", coco=False),
    _c("kitchen island", "large", "indoor", "furniture", coco=False),
    _c("sideboard", "large", "indoor", "furniture", "a sideboard cabinet", coco=False),
    _c("piano", "large", "indoor", "instrument", "an upright piano", coco=False),
    _c("bathtub", "large", "indoor", "fixture", coco=False),
    _c("picnic table", "large", "outdoor", "furniture", coco=False),
    _c("floor lamp", "medium", "indoor", "decor", coco=False),
    _c("table lamp", "small", "indoor", "decor", coco=False),
    _c("candle", "small", "indoor", "decor", coco=False),
    _c("picture frame", "small", "indoor", "decor", coco=False),
    _c("cushion", "small", "indoor", "decor", "a sofa cushion", coco=False),
    _c("basket", "small", "any", "decor", "a woven basket", coco=False),
    _c("flower bouquet", "small", "any", "decor", coco=False),
    _c("mug", "small", "indoor", "kitchenware", "a coffee mug", coco=False),
    _c("teapot", "small", "indoor", "kitchenware", coco=False),
    _c("plate", "small", "indoor", "kitchenware", "a dinner plate", coco=False),
    _c("jar", "small", "indoor", "kitchenware", "a glass jar", coco=False),
    _c("croissant", "small", "any", "food", coco=False),
    _c("pineapple", "small", "any", "food", coco=False),
    _c("watermelon", "small", "any", "food", coco=False),
    _c("loaf of bread", "small", "any", "food", coco=False),
    _c("tablet", "small", "indoor", "electronics", "a tablet computer", coco=False),
    _c("headphones", "small", "any", "electronics", coco=False),
    _c("camera", "small", "any", "electronics", "a digital camera", coco=False),
    _c("desk fan", "small", "indoor", "appliance", "an electric desk fan", coco=False),
    _c("guitar", "medium", "any", "instrument", "an acoustic guitar", coco=False),
    _c("globe", "small", "indoor", "decor", "a desk globe", coco=False),
    _c("toy car", "small", "indoor", "toy", coco=False),
    _c("wooden crate", "medium", "any", "container", coco=False),
    _c("trash can", "medium", "any", "street", coco=False),
    _c("mailbox", "medium", "outdoor", "street", coco=False),
    _c("street lamp", "large", "outdoor", "street", coco=False),
    _c("statue", "medium", "any", "figure", "a stone statue", coco=False),
    _c("scooter", "medium", "outdoor", "vehicle", "a kick scooter", coco=False),
    _c("van", "large", "outdoor", "vehicle", "a delivery van", coco=False),
    _c("tractor", "large", "outdoor", "vehicle", coco=False),
    _c("deer", "large", "outdoor", "animal", coco=False),
    _c("goat", "medium", "outdoor", "animal", coco=False),
    _c("pig", "medium", "outdoor", "animal", coco=False),
    _c("duck", "small", "outdoor", "animal", coco=False),
    _c("rabbit", "small", "any", "animal", coco=False),
    _c("fox", "medium", "outdoor", "animal", coco=False),
    _c("camel", "large", "outdoor", "animal", coco=False),
    _c("lion", "large", "outdoor", "animal", coco=False),
    _c("tiger", "large", "outdoor", "animal", coco=False),
    _c("cheetah", "medium", "outdoor", "animal", coco=False),
    _c("leopard", "medium", "outdoor", "animal", coco=False),
    _c("wolf", "medium", "outdoor", "animal", coco=False),
    _c("rocket", "large", "outdoor", "vehicle", "a space rocket", coco=False),
    _c("tent", "large", "outdoor", "structure", "a camping tent", coco=False),
    _c("lighthouse", "large", "outdoor", "structure", coco=False),
    _c("windmill", "large", "outdoor", "structure", coco=False),
    _c("tower", "large", "outdoor", "structure", "a tall tower", coco=False),
    _c("tree", "large", "outdoor", "plant", coco=False),
    _c("flower", "small", "any", "plant", "a single flower", coco=False),
    _c("flag", "medium", "any", "decor", "a flag on a pole", coco=False),
    _c("coin", "tiny", "any", "decor", "a metal coin", coco=False),
    _c("key", "tiny", "any", "tool", "a metal door key", coco=False),
    _c("ring", "tiny", "any", "clothing", "a gold finger ring", coco=False),
    _c("button", "tiny", "any", "clothing", "a sewing button", coco=False),
    _c("medal", "tiny", "any", "decor", "a bronze medal", coco=False),
    _c("bottle cap", "tiny", "any", "kitchenware", "a metal bottle cap", coco=False),
    _c("log", "medium", "outdoor", "nature", "a fallen tree log", coco=False),
    _c("mushroom", "small", "outdoor", "plant", "a wild mushroom", coco=False),
    _c("succulent", "small", "any", "plant", "a small succulent plant", coco=False),
    _c("pine cone", "small", "outdoor", "plant", coco=False),
    _c("curtain", "medium", "indoor", "decor", "a drapery curtain", coco=False),
    _c("banner", "medium", "any", "decor", "a hanging cloth banner", coco=False),
    _c("mannequin", "medium", "indoor", "figure", "a shop mannequin", coco=False),
    _c("scarecrow", "medium", "outdoor", "figure", coco=False),
    _c("saucer", "small", "indoor", "kitchenware", "a saucer (small plate)", coco=False),
    _c("tripod", "medium", "any", "tool", "a camera tripod", coco=False),
    _c("shrub", "medium", "outdoor", "plant", "a garden shrub", coco=False),
    _c("rock", "medium", "outdoor", "nature", "a large rock", coco=False),
    # Wall, counter and built-in things the size of a television (for the support rule below).
    _c("painting", "medium", "indoor", "decor", "a framed painting", coco=False),
    _c("mirror", "medium", "indoor", "decor", "a wall mirror", coco=False),
    _c("aquarium", "medium", "indoor", "decor", "a fish tank aquarium", coco=False),
    _c("dishwasher", "medium", "indoor", "appliance", coco=False),
    _c("washing machine", "medium", "indoor", "appliance", coco=False),
    _c("yacht", "large", "outdoor", "vehicle", "a sailing yacht", coco=False),
    _c("hot air balloon", "large", "outdoor", "vehicle", coco=False),
    _c("balloons", "medium", "any", "toy", "a bunch of party balloons", coco=False),
    # Buildings and things people wear (the embedded set annotates both).
    _c("building", "large", "outdoor", "structure", "a building", coco=False),
    _c("cardboard box", "medium", "any", "container", coco=False),
    _c("spacecraft model", "medium", "indoor", "decor", "a scale model of a space shuttle", coco=False),
    _c("eyeglasses", "small", "any", "clothing", "a pair of eyeglasses", coco=False),
    _c("sunglasses", "small", "any", "clothing", "a pair of sunglasses", coco=False),
    _c("hat", "small", "any", "clothing", "a hat", coco=False),
    _c("cap", "small", "any", "clothing", "a baseball cap", coco=False),
    _c("helmet", "small", "any", "clothing", "a helmet", coco=False),
    _c("scarf", "small", "any", "clothing", coco=False),
    _c("necklace", "small", "any", "clothing", coco=False),
    _c("wristwatch", "small", "any", "clothing", coco=False),
    _c("badge", "tiny", "any", "clothing", "a metal badge pinned on clothing", coco=False),
    _c("medal ribbons", "tiny", "any", "clothing", "military medal ribbons on a uniform", coco=False),
    _c("name tag", "tiny", "any", "clothing", "a name tag on clothing", coco=False),
    _c("patch", "tiny", "any", "clothing", "an embroidered patch on clothing", coco=False),
    _c("brooch", "tiny", "any", "clothing", "a jewelled brooch", coco=False),
)
# fmt: on

ALL_CATEGORIES: tuple[Category, ...] = COCO_CATEGORIES + EXTRA_CATEGORIES

# What a thing rests on or hangs from. A replacement must be able to sit where the target was: a television on
# a stand or a wall must not become a chair, a microwave on a counter must not become an armchair. Default: small
# things lie on a surface or are held, medium and large things stand on the ground (or floor).
DEFAULT_SUPPORTS = {
    "tiny": frozenset({"surface", "held"}),
    "small": frozenset({"surface", "held"}),
    "medium": frozenset({"ground"}),
    "large": frozenset({"ground"}),
}
# Worn things stay where they are worn: eyeglasses may become sunglasses, a chest patch a badge; never a hat on a
# chest or a cup floating in front of a face.
_WORN = {
    **{n: "head" for n in ("hat", "cap", "helmet")},
    **{n: "face" for n in ("eyeglasses", "sunglasses")},
    **{n: "chest" for n in ("badge", "medal ribbons", "name tag", "patch", "brooch")},
    "scarf": "neck", "necklace": "neck", "wristwatch": "wrist", "ring": "finger surface held",
    "button": "chest surface held", "medal": "chest surface held", "tie": "neck surface held",
    "headphones": "head surface held", "backpack": "ground held back",
}
_PLACED = {
    # on a counter, a stand or a wall; built in
    "tv": "surface wall", "microwave": "surface", "aquarium": "surface", "desk fan": "surface",
    "table lamp": "surface", "clock": "wall surface", "picture frame": "wall surface", "painting": "wall",
    "mirror": "wall", "curtain": "wall", "banner": "wall ground", "flag": "ground wall",
    "sink": "fixed", "toilet": "fixed", "oven": "fixed", "dishwasher": "fixed", "washing machine": "fixed ground",
    # in the air or on water
    "kite": "air", "balloons": "air held", "hot air balloon": "air", "airplane": "air ground",
    "rocket": "air ground", "bird": "ground air surface", "frisbee": "air held ground", "boat": "water",
    "yacht": "water", "duck": "ground water", "surfboard": "water ground held",
    # small things that also lie on the ground, medium ones that are also carried or put on tables
    "sports ball": "ground held", "handbag": "surface held ground", "rabbit": "ground", "mushroom": "ground",
    "pine cone": "ground surface", "flower": "ground surface held", "succulent": "surface ground",
    "potted plant": "ground surface", "cat": "ground surface", "dog": "ground surface", "umbrella": "held ground",
    "skis": "ground held", "snowboard": "ground held", "skateboard": "ground held", "guitar": "ground held",
}
SUPPORT_OVERRIDES: dict[str, frozenset[str]] = {
    name: frozenset(supports.split()) for name, supports in {**_PLACED, **_WORN}.items()
}


# Typical outline, for matching the mask the inpainting model will fill: a spoon-shaped hole cannot hold a plate,
# a coin-shaped one cannot hold a knife. "elongated": about 3:1 or more seen from most sides (refused by round
# masks); "compact": never near 3:1 from a usual view (refused by long masks; a plate seen at an angle is 2:1 at
# most); everything else (cars, people, tables: depends on pose and view) matches any mask.
ELONGATED = frozenset({
    "spoon", "fork", "knife", "baseball bat", "toothbrush", "tie", "skis", "snowboard", "surfboard", "skateboard",
    "remote", "carrot", "banana", "hot dog", "key", "umbrella", "train", "tower", "lighthouse", "rocket",
    "street lamp", "traffic light", "parking meter", "tripod", "floor lamp", "bottle", "bench", "medal ribbons",
    "log", "scarf", "guitar", "keyboard", "candle",
})
COMPACT = frozenset({
    "cup", "bowl", "apple", "orange", "donut", "cake", "clock", "sports ball", "coin", "button", "medal",
    "bottle cap", "ring", "teddy bear", "toaster", "globe", "basket", "jar", "mug", "teapot", "cushion",
    "watermelon", "flower", "succulent", "rock", "shrub", "cardboard box", "wooden crate", "hat", "helmet", "cap",
    "mushroom", "pine cone", "potted plant", "vase", "brooch", "badge", "microwave", "washing machine", "plate",
    "saucer",
})


def shape_of(category: Category) -> str:
    return "elongated" if category.name in ELONGATED else "compact" if category.name in COMPACT else "any"


def supports_of(category: Category) -> frozenset[str]:
    return SUPPORT_OVERRIDES.get(category.name, DEFAULT_SUPPORTS[category.size])


BY_NAME: dict[str, Category] = {c.name: c for c in ALL_CATEGORIES}

# Names that other vocabularies (panoptic models, Open Images, LVIS-style labels) use for the same COCO thing.
ALIASES: dict[str, str] = {
    "sofa": "couch",
    "tvmonitor": "tv",
    "tv monitor": "tv",
    "television": "tv",
    "motorbike": "motorcycle",
    "aeroplane": "airplane",
    "diningtable": "dining table",
    "table": "dining table",
    "pottedplant": "potted plant",
    "mobile phone": "cell phone",
    "hair dryer": "hair drier",
    "ball": "sports ball",
    "fridge": "refrigerator",
    "laptop computer": "laptop",
}

# Pairs that are lexical or sense traps in either direction (beyond word containment, which catches
# dog -> hot dog and bear -> teddy bear by itself): a text model links them through the word, not the scene.
LEXICAL_TRAPS: frozenset[frozenset[str]] = frozenset(
    frozenset(pair)
    for pair in (
        ("mouse", "rabbit"),  # computer mouse vs the animal sense
        ("mouse", "duck"),
        ("keyboard", "guitar"),  # computer keyboard vs musical keyboard
        ("keyboard", "piano"),
        ("remote", "toy car"),  # "remote-controlled" toys
        ("apple", "laptop"),  # the brand
        ("apple", "cell phone"),
        ("apple", "tablet"),
        ("baseball bat", "bird"),  # the animal sense of "bat"
        ("kite", "bird"),  # a kite is also a bird of prey
        ("cup", "mug"),  # synonyms in practice: no visible change
        ("couch", "armchair"),
        ("plate", "saucer"),
        ("clock", "tower"),  # clock towers
        ("camera", "tripod"),
    )
)


def canonical_name(label: str) -> str:
    """Map a model's or annotation's label to the table's name ("sofa" -> "couch", "tv-other" -> "tv")."""
    text = re.sub(r"[_\-]+", " ", label.strip().lower())
    text = re.sub(r"(\s+(merged|other|stuff))+$", "", text).strip()
    return ALIASES.get(text, text)


def lookup(label: str) -> Category | None:
    return BY_NAME.get(canonical_name(label))


def _words(name: str) -> set[str]:
    return set(re.findall(r"[a-z]+", name.lower()))


def is_lexical_trap(target: str, candidate: str) -> bool:
    """True when ``candidate`` is tied to ``target`` by words rather than by the scene.

    Word containment in either direction ("dog" / "hot dog", "bear" / "teddy bear", "glass" / "wine glass"),
    a shared word at all ("baseball bat" / "baseball glove": a swap a model reads as the same thing), or an
    explicit pair from ``LEXICAL_TRAPS``.
    """
    target, candidate = canonical_name(target), canonical_name(candidate)
    if _words(target) & _words(candidate):
        return True
    return frozenset((target, candidate)) in LEXICAL_TRAPS
