"""Convolutions on inputs no larger than their kernel, computed as one matrix product.

When an input has no more pixels than the kernel has taps (a ResNet's last stage on small
images: 512 channels at 2x2 or 1x1), every output pixel sees the whole input, so the convolution
is a dense layer whose weight gathers the kernel's taps. Its product then costs no more
multiply-adds than the convolution (fewer at 2x2 or 1x1, where most taps fall on the padding), and
one large matrix product uses the CPU's bf16 units far better than oneDNN's convolution
kernels do at these shapes. Measured at 2 threads, batch 128, bf16 autocast, forward and
backward: 512 -> 512 channels at 2x2, 82 ms as a convolution, 17 ms as a product; at 1x1,
33 ms against 5 ms (``benchmarks/bench_pretrain.py`` measures the whole loop).

:class:`SmallInputConv2d` takes this path under CPU bf16 autocast only; fp32 runs (deterministic
ones among them) and CUDA keep the plain convolution. The result is the same convolution (equal
to ``F.conv2d`` in float64 to rounding; tested), with the same parameters and state dict.
"""

from __future__ import annotations

import functools

import torch
from torch import nn


@functools.lru_cache(maxsize=64)
def _tap_map(height: int, width: int, kernel: tuple[int, int], stride: tuple[int, int],
             padding: tuple[int, int]) -> tuple[torch.Tensor, int, int]:
    """(one-hot (OH*OW*H*W, KH*KW) float64: which tap joins output pixel to input pixel, OH, OW)."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    oh, ow = (height + 2 * ph - kh) // sh + 1, (width + 2 * pw - kw) // sw + 1
    i, j = torch.arange(oh).view(-1, 1, 1, 1), torch.arange(ow).view(1, -1, 1, 1)
    p, q = torch.arange(height).view(1, 1, -1, 1), torch.arange(width).view(1, 1, 1, -1)
    row, col = p - i * sh + ph, q - j * sw + pw          # the tap that joins (i, j) to (p, q)
    inside = ((row >= 0) & (row < kh) & (col >= 0) & (col < kw)).reshape(-1)
    taps = torch.zeros(oh * ow * height * width, kh * kw, dtype=torch.float64)
    taps[inside.nonzero().squeeze(1), (row * kw + col).reshape(-1)[inside]] = 1
    return taps, oh, ow


def dense_conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                 stride: tuple[int, int], padding: tuple[int, int]) -> torch.Tensor:
    """``F.conv2d(x, weight, bias, stride, padding)`` (zero padding, no groups or dilation) as
    one product of the flattened input with the dense weight, in ``x``'s dtype."""
    n, c, height, width = x.shape
    out_channels, _, kh, kw = weight.shape
    taps, oh, ow = _tap_map(height, width, (kh, kw), stride, padding)
    kernel = weight.to(x.dtype).reshape(out_channels, c, kh * kw)
    dense = torch.einsum("oct,pt->opc", kernel, taps.to(x.device, x.dtype))
    flat = x.permute(0, 2, 3, 1).reshape(n, height * width * c)       # (p, q, c) order
    out = flat @ dense.reshape(out_channels * oh * ow, height * width * c).t()
    out = out.view(n, out_channels, oh, ow)
    return out if bias is None else out + bias.to(x.dtype).view(1, -1, 1, 1)


class SmallInputConv2d(nn.Conv2d):
    """``nn.Conv2d`` that computes as :func:`dense_conv2d` under CPU bf16 autocast when its
    input has no more pixels than the kernel has taps."""

    def _dense_applies(self, x: torch.Tensor) -> bool:
        return (x.device.type == "cpu" and torch.is_autocast_enabled("cpu")
                and torch.get_autocast_dtype("cpu") == torch.bfloat16
                and x.shape[-2] * x.shape[-1] <= self.kernel_size[0] * self.kernel_size[1]
                and self.groups == 1 and self.dilation == (1, 1)
                and self.padding_mode == "zeros" and not isinstance(self.padding, str))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._dense_applies(x):
            return dense_conv2d(x.to(torch.bfloat16), self.weight, self.bias, self.stride,
                                self.padding)
        return super().forward(x)


def use_small_input_convs(model: nn.Module) -> nn.Module:
    """Make every plain ``nn.Conv2d`` of ``model`` a :class:`SmallInputConv2d` (same parameters)."""
    for module in model.modules():
        if type(module) is nn.Conv2d:
            module.__class__ = SmallInputConv2d
    return model
