"""Looks of a landscape scene: times of day, seasons, weathers, the palette and light, the final colour grade."""

from __future__ import annotations

import numpy as np

from .canvas import Canvas
from .noise import F32

TIMES = ("day", "golden_hour", "sunset", "dusk", "night")
TIME_P = (0.40, 0.15, 0.15, 0.12, 0.18)
SEASONS = ("summer", "autumn", "winter", "spring")
SEASON_P = (0.32, 0.26, 0.20, 0.22)
WEATHERS = ("clear", "cloudy", "overcast", "hazy", "foggy")
WEATHER_P = (0.30, 0.30, 0.14, 0.12, 0.14)


def color(*rgb: float) -> np.ndarray:
    return np.array(rgb, dtype=F32)


def jitter(rng, col, amount=0.06):
    return np.clip(col * (1.0 + rng.normal(0.0, amount, 3)).astype(F32), 0.0, 1.5).astype(F32)


def mix(a, b, t):
    return (a + (b - a) * F32(t)).astype(F32)


def make_palette(rng, time, season, weather):
    """Colours and light of one scene.  All colours float32 RGB in [0, 1]-ish sRGB."""
    P: dict = {}
    if time == "day":
        zen = color(0.16, 0.36, 0.78)
        hor = color(0.62, 0.78, 0.94)
        mid = None
        sun = color(1.0, 0.98, 0.92)
        light = color(1.0, 0.96, 0.88)
        amb = color(0.40, 0.46, 0.56)
        cl_lit = color(1.0, 1.0, 1.0)
        cl_dark = color(0.60, 0.65, 0.74)
        glow = color(1.0, 0.97, 0.88)
    elif time == "golden_hour":
        zen = color(0.30, 0.44, 0.72)
        hor = color(0.98, 0.76, 0.46)
        mid = color(0.88, 0.78, 0.62)
        sun = color(1.0, 0.90, 0.62)
        light = color(1.0, 0.74, 0.44)
        amb = color(0.34, 0.34, 0.44)
        cl_lit = color(1.0, 0.84, 0.60)
        cl_dark = color(0.55, 0.48, 0.56)
        glow = color(1.0, 0.80, 0.50)
    elif time == "sunset":
        zen = color(0.20, 0.20, 0.44)
        hor = color(0.98, 0.48, 0.20)
        mid = color(0.86, 0.44, 0.46)
        sun = color(1.0, 0.66, 0.34)
        light = color(0.92, 0.52, 0.32)
        amb = color(0.26, 0.21, 0.34)
        cl_lit = color(1.0, 0.56, 0.38)
        cl_dark = color(0.42, 0.28, 0.40)
        glow = color(1.0, 0.55, 0.25)
    elif time == "dusk":
        zen = color(0.05, 0.07, 0.20)
        hor = color(0.58, 0.36, 0.48)
        mid = color(0.30, 0.24, 0.42)
        sun = color(0.9, 0.5, 0.4)
        light = color(0.46, 0.36, 0.52)
        amb = color(0.20, 0.19, 0.30)
        cl_lit = color(0.62, 0.42, 0.52)
        cl_dark = color(0.20, 0.17, 0.28)
        glow = color(0.85, 0.45, 0.45)
    else:  # night
        zen = color(0.015, 0.025, 0.07)
        hor = color(0.07, 0.11, 0.21)
        mid = None
        sun = color(0.96, 0.95, 0.86)  # the moon
        light = color(0.40, 0.48, 0.72)
        amb = color(0.09, 0.11, 0.19)
        cl_lit = color(0.26, 0.29, 0.38)
        cl_dark = color(0.09, 0.10, 0.14)
        glow = color(0.35, 0.38, 0.48)

    # per-scene variation of the sky hue / brightness (strong: the style encoder needs it)
    zen = jitter(rng, zen, 0.10)
    hor = jitter(rng, hor, 0.07)
    if mid is not None:
        mid = jitter(rng, mid, 0.07)
    light = jitter(rng, light, 0.05)
    amb = jitter(rng, amb, 0.06)
    haze = mix(hor, zen, 0.15)

    haze_k = {"clear": 0.25, "cloudy": 0.3, "overcast": 0.45, "hazy": 0.75, "foggy": 0.6}[weather]
    haze_k *= rng.uniform(0.7, 1.3)
    if weather == "overcast":
        g = 0.62 if time == "day" else (0.45 if time in ("golden_hour", "sunset") else
                                       (0.22 if time == "dusk" else 0.13))
        grey = color(g, g * 1.01, g * 1.05)
        zen = mix(zen, grey * 0.85, 0.55)
        hor = mix(hor, grey * 1.15, 0.6)
        haze = mix(haze, grey * 1.1, 0.8)
        amb = amb * 0.7 + light * (0.55 if time != "night" else 0.8)
        light = light * 0.25
        cl_lit = mix(cl_lit, grey * 1.2, 0.75)
        cl_dark = mix(cl_dark, grey * 0.7, 0.75)
    elif weather in ("hazy", "foggy"):
        wash = 0.35 if weather == "hazy" else 0.5
        zen = mix(zen, hor, wash)
        haze = mix(haze, hor * 1.05, 0.5)
        light = light * (0.8 if weather == "hazy" else 0.6)
        amb = amb * 1.15
    P.update(zen=zen, hor=hor, mid=mid, sun=sun, light=light, amb=amb, cl_lit=cl_lit,
             cl_dark=cl_dark, glow=glow, haze=np.clip(haze, 0, 1).astype(F32), haze_k=haze_k)

    # albedos
    if season == "summer":
        grass = color(0.30, 0.50, 0.16)
        hill = color(0.25, 0.40, 0.17)
        leaves = [color(0.15, 0.33, 0.11), color(0.20, 0.38, 0.12), color(0.12, 0.28, 0.12)]
        bush = color(0.17, 0.33, 0.12)
    elif season == "spring":
        grass = color(0.42, 0.62, 0.20)
        hill = color(0.34, 0.52, 0.20)
        leaves = [color(0.32, 0.55, 0.18), color(0.96, 0.74, 0.84), color(0.96, 0.95, 0.90),
                  color(0.40, 0.60, 0.20)]
        bush = color(0.26, 0.47, 0.16)
    elif season == "autumn":
        grass = color(0.58, 0.54, 0.26)
        hill = color(0.52, 0.42, 0.20)
        leaves = [color(0.85, 0.42, 0.10), color(0.78, 0.20, 0.08), color(0.88, 0.66, 0.14),
                  color(0.60, 0.32, 0.10), color(0.35, 0.38, 0.12)]
        bush = color(0.55, 0.26, 0.10)
    else:  # winter
        grass = color(0.44, 0.42, 0.30)
        hill = color(0.36, 0.33, 0.29)
        leaves = [color(0.30, 0.24, 0.20)]
        bush = color(0.32, 0.26, 0.20)
    P.update(grass=jitter(rng, grass, 0.07), hill=jitter(rng, hill, 0.07),
             leaves=[jitter(rng, c, 0.05) for c in leaves], bush=jitter(rng, bush, 0.06))
    P["conifer"] = jitter(rng, color(0.07, 0.20, 0.12), 0.08)
    P["trunk"] = jitter(rng, color(0.24, 0.17, 0.12), 0.08)
    rock_choices = [color(0.46, 0.44, 0.42), color(0.50, 0.43, 0.36), color(0.38, 0.39, 0.42),
                    color(0.55, 0.50, 0.44)]
    P["rock"] = jitter(rng, rock_choices[int(rng.integers(len(rock_choices)))], 0.05)
    P["mountain"] = jitter(rng, rock_choices[int(rng.integers(len(rock_choices)))] * 0.95, 0.05)
    P["snow"] = color(0.94, 0.95, 0.98)
    P["sand"] = jitter(rng, color(0.86, 0.77, 0.56), 0.04)
    P["dirt"] = jitter(rng, color(0.45, 0.32, 0.20), 0.07)
    P["sea"] = jitter(rng, [color(0.03, 0.17, 0.32), color(0.03, 0.26, 0.33), color(0.05, 0.20, 0.28)]
                    [int(rng.integers(3))], 0.08)
    P["river"] = jitter(rng, color(0.10, 0.26, 0.28), 0.08)
    fog_base = {"day": color(0.86, 0.88, 0.90), "golden_hour": color(0.95, 0.84, 0.70),
                "sunset": color(0.86, 0.66, 0.62), "dusk": color(0.46, 0.42, 0.52),
                "night": color(0.14, 0.16, 0.22)}[time]
    if weather == "overcast":
        fog_base = mix(fog_base, haze, 0.5)
    P["fog"] = jitter(rng, fog_base, 0.03)
    return P


def grade(scene: Canvas):
    rng = scene.rng
    img = scene.img
    H, W = scene.H, scene.W
    # per-scene colour grade: exposure, contrast, saturation, tint (a strong "look" signal)
    expo = rng.uniform(0.88, 1.12)
    contrast = rng.uniform(0.88, 1.15)
    sat = rng.uniform(0.75, 1.25)
    if scene.weather in ("overcast", "foggy"):
        sat *= 0.8
    tint = (1.0 + rng.normal(0, 0.04, 3)).astype(F32)
    img *= tint * F32(expo)
    lum = img[..., 0] * 0.3 + img[..., 1] * 0.59 + img[..., 2] * 0.11
    img += (img - lum[..., None]) * F32(sat - 1.0)
    mean = float(lum.mean(dtype=np.float64)) * expo
    img -= F32(mean)
    img *= F32(contrast)
    img += F32(mean)
    # vignette
    vk = rng.uniform(0.0, 0.3)
    ry = ((scene.ys / H) - 0.5) * 2.0
    rx = ((scene.xs / W) - 0.5) * 2.0
    vig = 1.0 - F32(vk) * (rx * rx + ry * ry) * 0.5
    img *= vig[..., None]
    # light softening of hard pixel edges + grain
    soft = np.empty_like(img)
    soft[1:-1] = img[1:-1] * 0.6 + (img[:-2] + img[2:]) * 0.2
    soft[0], soft[-1] = img[0], img[-1]
    out = np.empty_like(img)
    out[:, 1:-1] = soft[:, 1:-1] * 0.6 + (soft[:, :-2] + soft[:, 2:]) * 0.2
    out[:, 0], out[:, -1] = soft[:, 0], soft[:, -1]
    grain = scene.nrng.standard_normal((H, W), dtype=F32) * F32(0.008)
    out += grain[..., None]
    scene.info["grade"] = {"exposure": round(expo, 3), "contrast": round(contrast, 3),
                          "saturation": round(sat, 3)}
    return out
