"""What the random scenes look like: ``SynthConfig`` and its easy variant."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class SynthConfig:
    """What the random scenes look like. ``None`` sizes mean random per image.

    The sim-to-real elements (each off when its probability is 0, as in the easy variant):
    ``no_hand_prob`` images without any hand (unless ``num_hands`` is fixed); ``people_prob`` images with 1-3 people behind the
    hands (faces, necks, torsos, bare arms: hard negatives; with ``beside_face_prob`` the first
    face is right next to a hand; ``figure_prob`` of the others are small whole people, head to
    shoes, and with ``crowd_prob`` a group of them stands on one ground line); ``light_spots_prob``
    a darkened background with point lights (stage lights, lamps, reflections: bright blobs that
    are not hands); ``bare_arm_prob`` a bare forearm crossing the image whose hand
    is out of view; ``held_prob`` per hand, an object in its grip; ``touch_prob`` per other hand, a
    panel / screen / book under a fingertip; ``crease_prob`` skin creases; ``mono_prob`` a
    monochrome camera (the grey-scale / infrared streams of many robot and depth cameras: a hand
    has to be found by its shape, not its skin colour); ``clutter_prob`` a busy dead-leaves
    background of fine textures and ``busy_patch_prob`` 1-4 hand-sized patches of texture on it
    (``clutter``: texture is not a hand); ``easy_plain_prob`` the share of the easy variant's
    images on a plain background (the rest: a random one, the big hand on clutter).
    ``backgrounds``: a folder of the user's own photos (``photos.PhotoBackgrounds``), used as the
    background of a ``photo_prob`` share of the images instead of a procedural one.
    """

    width: int | None = None
    height: int | None = None
    min_side: int = 240
    max_side: int = 640
    num_hands: int | None = None  # fixed number, else drawn from hands_probs
    hands_probs: tuple[float, ...] = (0.45, 0.32, 0.15, 0.08)
    min_height_frac: float = 0.05  # hand size relative to image height
    max_height_frac: float = 0.8
    focal_range: tuple[float, float] = (0.6, 1.6)  # fx / width
    depth_range: tuple[float, float] = (0.2, 2.0)  # wrist z in metres
    occluder_prob: float = 0.35
    forearm_prob: float = 0.85
    sleeve_prob: float = 0.5
    shadow_prob: float = 0.3
    uniform_rotation_prob: float = 0.2
    jpeg_prob: float = 0.5
    blur_prob: float = 0.3
    noise_prob: float = 0.5
    no_hand_prob: float = 0.12
    people_prob: float = 0.5
    people_no_hand_prob: float = 0.85  # people in the images without hands
    beside_face_prob: float = 0.5
    figure_prob: float = 0.3  # share of the (non-beside) people that are small whole people
    crowd_prob: float = 0.35  # of the images with people: also a group of 2-6 small whole people
    light_spots_prob: float = 0.08  # point lights / reflections on a darkened background
    bare_arm_prob: float = 0.15
    held_prob: float = 0.2
    touch_prob: float = 0.15
    crease_prob: float = 0.5
    mono_prob: float = 0.06
    clutter_prob: float = 0.2
    busy_patch_prob: float = 0.25
    easy_plain_prob: float = 1.0
    easy_people_prob: float = 0.0  # people (a face beside the hand, ...) in the easy variant's scenes too
    backgrounds: str | None = None
    photo_prob: float = 1.0
    easy: bool = False  # one big, well-lit hand on a plain background, no effects
    hand_model: str = "open"


# the SynthConfig fields that make a scene "easy": one big, well-lit hand on a plain background
EASY_FIELDS: dict = dict(num_hands=1, min_height_frac=0.4, max_height_frac=0.7, occluder_prob=0.0, forearm_prob=1.0,
                         sleeve_prob=0.0, shadow_prob=0.0, uniform_rotation_prob=0.0, jpeg_prob=0.0,
                         blur_prob=0.0, noise_prob=0.0, no_hand_prob=0.0, people_prob=0.0, bare_arm_prob=0.0,
                         crowd_prob=0.0, light_spots_prob=0.0,
                         held_prob=0.0, touch_prob=0.0, crease_prob=0.0, mono_prob=0.0, busy_patch_prob=0.0,
                         easy=True)


def _easy_fields(easy_people_prob: float) -> dict:
    """EASY_FIELDS, with people behind the hand at ``easy_people_prob`` (SynthConfig's knob)."""
    return {**EASY_FIELDS, "people_prob": easy_people_prob}


def easy_config(**kw) -> SynthConfig:
    """The easy variant of ``SynthConfig(**kw)``; fields in ``kw`` override the easy ones."""
    return SynthConfig(**{**_easy_fields(kw.get("easy_people_prob", 0.0)), **kw})


def easy_variant(cfg: SynthConfig) -> SynthConfig:
    """``cfg`` with the easy fields set (image size, depth, focal range and hand model kept; people
    behind the hand with ``cfg.easy_people_prob``)."""
    return SynthConfig(**{**asdict(cfg), **_easy_fields(cfg.easy_people_prob)})
