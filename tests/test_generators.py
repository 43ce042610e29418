"""PatchShuffle, RandomCrop, Mix and the registry: invariants checked pixel by pixel.

Images are "coordinate images": every pixel's value says where it was (a permutation of 0..255
for grayscale, or row/column codes in two channels for RGB), so the output tells exactly which
source pixel each output pixel came from, and rigid transforms are checked against torch.rot90
and flips, independently of the implementation.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import cuda
from synthcl.errors import SynthclError
from synthcl.generators import (
    GENERATORS,
    Mix,
    PatchShuffle,
    RandomCrop,
    SyntheticGenerator,
    build_generator,
)

FAST = settings(max_examples=25, deadline=None)


def coordinate_image(h: int, w: int, channels: int, seed: int) -> torch.Tensor:
    """(1, C, H, W) uint8 with unique pixels: grayscale needs H*W <= 256."""
    g = torch.Generator().manual_seed(seed)
    if channels == 1:
        return torch.randperm(256, generator=g)[: h * w].to(torch.uint8).view(1, 1, h, w)
    ys = torch.arange(h).view(h, 1).expand(h, w)
    xs = torch.arange(w).view(1, w).expand(h, w)
    noise = torch.randint(0, 256, (h, w), generator=g)
    return torch.stack([ys, xs, noise]).to(torch.uint8)[None]


def source_coordinates(out: torch.Tensor, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For each output pixel (H, W): the row and column of the source pixel it equals."""
    _, c, h, w = src.shape
    if c == 1:
        lookup = torch.full((256,), -1, dtype=torch.long)
        lookup[src.view(-1).long()] = torch.arange(h * w)
        flat = lookup[out[0, 0].long()]
        assert bool((flat >= 0).all()), "an output pixel value is absent from the source"
        return flat // w, flat % w
    ys, xs = out[0, 0].long(), out[0, 1].long()
    assert bool((ys < h).all() and (xs < w).all())
    assert torch.equal(out[0, 2], src[0, 2, ys, xs]), "channels of a pixel come from one pixel"
    return ys, xs


def rigid_variants(block: torch.Tensor) -> list[torch.Tensor]:
    """The rigid transforms of a (2, ph, pw) coordinate block allowed for its shape."""
    if block.shape[-1] == block.shape[-2]:
        rotations = [torch.rot90(block, k, dims=(-2, -1)) for k in range(4)]
        return rotations + [r.flip(-1) for r in rotations]
    return [block, block.flip(-1), block.flip(-2), block.flip(-1).flip(-2)]


def is_window(block: torch.Tensor) -> bool:
    """True when a (2, ph, pw) coordinate block is a contiguous window of the source."""
    ph, pw = block.shape[1:]
    ys = block[0, 0, 0] + torch.arange(ph).view(ph, 1)
    xs = block[1, 0, 0] + torch.arange(pw).view(1, pw)
    return torch.equal(block[0], ys.expand(ph, pw)) and torch.equal(block[1], xs.expand(ph, pw))


sizes_gray = st.tuples(st.integers(2, 16), st.integers(2, 16)).filter(lambda s: s[0] * s[1] <= 256)


@FAST
@given(size=sizes_gray, d=st.integers(1, 6), seed=st.integers(0, 10_000), rgb=st.booleans())
def test_patchshuffle_permutes_rigidly_transformed_patches(size, d, seed, rgb):
    h, w = (size[0] * 3, size[1] * 3) if rgb else size
    if d > min(h, w):
        return
    src = coordinate_image(h, w, 3 if rgb else 1, seed)
    out = PatchShuffle(d)(src, torch.Generator().manual_seed(seed))
    assert out.shape == src.shape and out.dtype == torch.uint8
    ys, xs = source_coordinates(out, src)
    coords = torch.stack([ys, xs])
    ph, pw = h // d, w // d
    top, left = (h - d * ph) // 2, (w - d * pw) // 2
    grid = torch.zeros(h, w, dtype=torch.bool)
    grid[top:top + d * ph, left:left + d * pw] = True
    identity = torch.stack(torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij"))
    assert torch.equal(coords[:, ~grid], identity[:, ~grid]), "the border must stay in place"
    used = []
    for r in range(d):
        for c in range(d):
            y0, x0 = top + r * ph, left + c * pw
            block = coords[:, y0:y0 + ph, x0:x0 + pw]
            matches = {(i, j)
                       for i in range(d) for j in range(d)
                       for v in rigid_variants(identity[:, top + i * ph:top + (i + 1) * ph,
                                                        left + j * pw:left + (j + 1) * pw])
                       if torch.equal(v, block)}
            assert len(matches) == 1, f"slot {(r, c)} matches {len(matches)} input patches"
            used += matches
    assert len(set(used)) == d * d, "patches must be a bijection of the grid"


@FAST
@given(size=st.tuples(st.integers(8, 40), st.integers(8, 40)), d=st.integers(2, 6),
       seed=st.integers(0, 10_000))
def test_patchshuffle_keeps_the_multiset_of_pixels(size, d, seed):
    h, w = size[0] // d * d, size[1] // d * d
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(0, 256, (2, 3, h, w), generator=g, dtype=torch.uint8)
    out = PatchShuffle(d)(src, g)
    assert torch.equal(out.flatten(1).sort(1).values, src.flatten(1).sort(1).values)


@FAST
@given(size=st.tuples(st.integers(6, 40), st.integers(6, 40)), d=st.integers(1, 8),
       seed=st.integers(0, 10_000))
def test_randomcrop_tiles_are_rigid_transforms_of_source_windows(size, d, seed):
    h, w = size
    if d > min(h, w):
        return
    src = coordinate_image(h, w, 3, seed)
    gen = RandomCrop(d)
    draws = gen.draw(1, 3, h, w, torch.Generator().manual_seed(seed))
    out = gen.apply(src, draws)
    assert out.shape == src.shape
    ys, xs = source_coordinates(out, src)           # every pixel comes from the source
    coords = torch.stack([ys, xs])
    ph, pw = h // d, w // d
    oy, ox = int(draws["crop_y"][0]), int(draws["crop_x"][0])
    whole = 0
    for ty in range(-(-oy // ph) * ph - oy, h - ph + 1, ph):
        for tx in range(-(-ox // pw) * pw - ox, w - pw + 1, pw):
            block = coords[:, ty:ty + ph, tx:tx + pw]
            assert any(is_window(v) for v in rigid_variants(block)), (ty, tx)
            whole += 1
    assert whole >= ((h - ph + 1) // ph) * ((w - pw + 1) // pw)


@pytest.mark.parametrize("name", ["patchshuffle", "randomcrop", "gpnn", "mix:randomcrop+gpnn"])
def test_same_seed_same_bytes_and_seeds_differ(name):
    gen = build_generator(name, d=4)
    src = torch.randint(0, 256, (3, 3, 24, 24), generator=torch.Generator().manual_seed(1),
                        dtype=torch.uint8)
    a = gen(src, torch.Generator().manual_seed(7))
    b = gen(src, torch.Generator().manual_seed(7))
    c = gen(src, torch.Generator().manual_seed(8))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("name", ["patchshuffle", "randomcrop"])
def test_grayscale_and_rgb_non_square(name, channels):
    src = torch.randint(0, 256, (5, channels, 30, 45), dtype=torch.uint8)
    out = build_generator(name, d=3)(src, torch.Generator().manual_seed(0))
    assert out.shape == src.shape and out.dtype == torch.uint8 and out.is_contiguous()
    assert not torch.equal(out, src)


def test_draws_of_single_images_concatenate_to_the_batch_draw():
    """Applying concatenated per-image draws equals applying each image's draw alone."""
    src = torch.randint(0, 256, (4, 1, 20, 20), dtype=torch.uint8)
    for gen in (PatchShuffle(4), RandomCrop(3), build_generator("mix:patchshuffle+randomcrop")):
        draws = [gen.draw(1, 1, 20, 20, torch.Generator().manual_seed(i)) for i in range(4)]
        joined = {k: torch.cat([d[k] for d in draws]) for k in draws[0]}
        together = gen.apply(src, joined)
        alone = torch.cat([gen.apply(src[i:i + 1], draws[i]) for i in range(4)])
        assert torch.equal(together, alone)


def test_mix_uses_every_generator_and_partitions_the_batch():
    src = torch.randint(0, 256, (64, 1, 16, 16), dtype=torch.uint8)
    ps, rc = PatchShuffle(4), RandomCrop(4)
    mix = Mix([ps, rc], weights=[1, 3])
    draws = mix.draw(64, 1, 16, 16, torch.Generator().manual_seed(0))
    out = mix.apply(src, draws)
    choice = draws["choice"]
    assert 0 < int((choice == 0).sum()) < int((choice == 1).sum()) < 64
    for k, g in enumerate((ps, rc)):
        rows = choice == k
        sub = {key[2:]: v[rows] for key, v in draws.items() if key.startswith(f"{k}.")}
        assert torch.equal(out[rows], g.apply(src[rows], sub))
    assert mix.name == "mix:patchshuffle+randomcrop" and not mix.costly
    assert build_generator("mix:randomcrop+gpnn").costly


def test_registry_names_options_and_errors():
    assert set(GENERATORS) >= {"patchshuffle", "randomcrop", "gpnn", "mix:randomcrop+gpnn"}
    for name in GENERATORS:
        assert isinstance(build_generator(name, d=2), SyntheticGenerator)
    assert build_generator("gpnn", noise_std=0.5).params()["noise_std"] == 0.5
    assert build_generator("randomcrop", d=8).params() == {"d": 8}
    with pytest.raises(SynthclError, match="valid names: patchshuffle, randomcrop, gpnn"):
        build_generator("jigsaw")
    with pytest.raises(SynthclError, match="unknown option"):
        build_generator("patchshuffle", noise_std=1)
    with pytest.raises(SynthclError, match="positive integer"):
        build_generator("patchshuffle", d=0)


def test_options_take_the_types_the_generators_declare():
    gpnn = build_generator("gpnn", iters="3", noise_std="0.5", patch_size=5.0, alpha=None)
    assert gpnn.params()["iters"] == 3 and isinstance(gpnn.params()["iters"], int)
    assert gpnn.params()["noise_std"] == 0.5 and gpnn.params()["patch_size"] == 5
    noise = build_generator("gpnn", noise_std=1).params()["noise_std"]
    assert noise == 1.0 and isinstance(noise, float)
    mix = build_generator("mix:patchshuffle+randomcrop", weights="[1, 3]")
    assert mix.weights == [0.25, 0.75]
    assert build_generator("mix:patchshuffle+randomcrop", weights=(1, 1)).weights == [0.5, 0.5]
    for option, value, expected in [
            ("noise_std", "abc", "float"), ("iters", "three", "int"),
            ("patch_size", 2.5, "int"), ("iters", True, "int"),
            ("scale", float("nan"), "float"), ("max_levels", [3], "int")]:
        with pytest.raises(SynthclError, match=f"'gpnn': setting '{option}': .* is not a valid "
                                               f"{expected}"):
            build_generator("gpnn", **{option: value})
    for weights, message in (("ab", "not a valid float"), ([1, "x"], "not a valid float"),
                             (5, "must be 2 non-negative numbers")):
        with pytest.raises(SynthclError, match=message):
            build_generator("mix:patchshuffle+randomcrop", weights=weights)


def test_parse_options_reads_yaml_values():
    from synthcl.generators import parse_options

    assert parse_options(["noise_std=0.5", " iters = 3", "weights=[1,3]", "alpha="]) == {
        "noise_std": 0.5, "iters": 3, "weights": [1, 3], "alpha": None}
    assert parse_options(["weights=[1,"]) == {"weights": "[1,"}
    with pytest.raises(SynthclError, match="expected KEY=VALUE"):
        parse_options(["noise_std"])


@pytest.mark.parametrize("gen", [PatchShuffle(9), RandomCrop(9)])
def test_d_too_large_is_a_clear_error(gen):
    with pytest.raises(SynthclError, match="too large for 8x8 images"):
        gen(torch.zeros(1, 1, 8, 8, dtype=torch.uint8), torch.Generator())


def test_bad_input_is_a_clear_error():
    with pytest.raises(SynthclError, match="uint8"):
        PatchShuffle(2)(torch.zeros(1, 1, 8, 8), torch.Generator())


def test_randomcrop_covers_sizes_that_d_does_not_divide():
    """28x28 with D=8: 9 tiles of 3 px would cover 27 px only; the grid grows to 10 tiles."""
    gen = RandomCrop(8)
    assert gen.layout(28, 28) == (3, 3, 10, 10)
    assert gen.layout(32, 32) == (4, 4, 9, 9)


@pytest.mark.cuda
@cuda
@pytest.mark.parametrize("name", ["patchshuffle", "randomcrop", "mix:patchshuffle+randomcrop"])
def test_cuda_matches_cpu_byte_for_byte(name):
    gen = build_generator(name, d=4)
    src = torch.randint(0, 256, (16, 3, 64, 48), dtype=torch.uint8)
    draws = gen.draw(16, 3, 64, 48, torch.Generator().manual_seed(0))
    assert torch.equal(gen.apply(src, draws), gen.apply(src.cuda(), draws).cpu())


def test_transform_codes_are_the_documented_rotations_and_flips():
    """The code bits (transpose, then vertical, then horizontal flip) are the documented
    rotations and flips, and ``row_source`` finds the same rows."""
    from synthcl.generators.rigid import draw_transforms, row_source

    a = torch.arange(9).view(3, 3)
    rotations = {0: 0, 3: 1, 6: 2, 5: 3}                              # code -> k of rot90
    expected = {code: torch.rot90(a, k) for code, k in rotations.items()}
    expected |= {code ^ 4: torch.rot90(a, k).flip(1) for code, k in rotations.items()}
    transposed, rotated, reversed_ = row_source(torch.arange(8))
    for code in range(8):
        by_bits = a.T if code & 1 else a
        by_bits = by_bits.flip(0) if code & 2 else by_bits
        by_bits = by_bits.flip(1) if code & 4 else by_bits
        rows = torch.rot90(a, 2) if rotated[code] else a
        rows = rows.T if transposed[code] else rows
        rows = rows.flip(0) if reversed_[code] else rows
        assert torch.equal(by_bits, expected[code]) and torch.equal(rows, expected[code]), code
    g = torch.Generator().manual_seed(0)
    assert set(draw_transforms((400,), True, g).tolist()) == set(range(8))
    assert set(draw_transforms((400,), False, g).tolist()) == {0, 2, 4, 6}
