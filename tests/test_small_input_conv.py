"""The dense path of small-input convolutions is the same convolution, taken only where it pays."""

import pytest
import torch
import torch.nn.functional as F

from synthcl.models import build_backbone
from synthcl.models.small_input_conv import SmallInputConv2d, dense_conv2d

CASES = [  # (channels in, out, input h, w, kernel, stride, padding, bias)
    (5, 7, 1, 1, 3, 1, 1, False),
    (5, 7, 2, 2, 3, 1, 1, True),
    (4, 6, 3, 3, 3, 2, 1, False),
    (4, 6, 2, 3, 3, 1, 1, False),
    (3, 2, 4, 4, 3, 2, 1, True),       # larger than the kernel: still exact if called
    (6, 4, 2, 2, 1, 2, 0, False),      # a 1x1 downsampling convolution
]


@pytest.mark.parametrize("cin,cout,h,w,k,s,p,bias", CASES)
def test_dense_conv_equals_conv2d_in_float64(cin, cout, h, w, k, s, p, bias):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, cin, h, w, dtype=torch.float64, generator=g, requires_grad=True)
    weight = torch.randn(cout, cin, k, k, dtype=torch.float64, generator=g, requires_grad=True)
    b = torch.randn(cout, dtype=torch.float64, generator=g, requires_grad=True) if bias else None
    grad = torch.randn_like(F.conv2d(x, weight, b, s, p))
    ours = dense_conv2d(x, weight, b, (s, s), (p, p))
    ref = F.conv2d(x, weight, b, s, p)
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)
    params = [x, weight] + ([b] if bias else [])
    ours_grads = torch.autograd.grad(ours, params, grad)
    ref_grads = torch.autograd.grad(ref, params, grad)
    for a, r in zip(ours_grads, ref_grads, strict=True):
        torch.testing.assert_close(a, r, rtol=1e-12, atol=1e-12)


def _conv(cin: int, cout: int) -> SmallInputConv2d:
    conv = SmallInputConv2d(cin, cout, 3, padding=1, bias=False)
    torch.nn.init.normal_(conv.weight, std=0.05)
    return conv


def test_dense_path_only_under_cpu_bf16_autocast_on_small_inputs(monkeypatch):
    calls = []
    real = dense_conv2d
    monkeypatch.setattr("synthcl.models.small_input_conv.dense_conv2d",
                        lambda *a: calls.append(a[0].shape) or real(*a))
    conv = _conv(8, 8)
    small, large = torch.randn(2, 8, 2, 2), torch.randn(2, 8, 4, 4)
    conv(small)                                        # fp32: the plain convolution
    with torch.autocast("cpu", dtype=torch.bfloat16):
        conv(large)                                    # 16 pixels > 9 taps: convolution
        out = conv(small)                              # 4 pixels <= 9 taps: dense
    assert calls == [small.shape]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        ref = F.conv2d(small, conv.weight, None, 1, 1)
    assert out.dtype == ref.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), ref.float(), rtol=0.02, atol=0.02)


def test_bf16_dense_gradients_match_the_convolution():
    conv = _conv(64, 32)
    x = torch.randn(16, 64, 2, 2, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = conv(x)
    out.float().square().sum().backward()
    dense_w, dense_x = conv.weight.grad.clone(), x.grad.clone()
    conv.weight.grad, x.grad = None, None
    with torch.autocast("cpu", dtype=torch.bfloat16):
        ref = F.conv2d(x, conv.weight, None, 1, 1)
    ref.float().square().sum().backward()
    for ours, theirs in ((dense_w, conv.weight.grad), (dense_x, x.grad)):
        assert ((ours - theirs).norm() / theirs.norm()).item() < 0.02


def test_backbone_state_dict_and_fp32_outputs_unchanged():
    torch.manual_seed(0)
    model = build_backbone("resnet18", 8, small_stem=True).eval()
    assert all(type(m) is SmallInputConv2d for m in model.modules()
               if isinstance(m, torch.nn.Conv2d))
    plain = build_backbone("resnet18", 8, small_stem=True).eval()
    for m in plain.modules():
        if isinstance(m, torch.nn.Conv2d):
            m.__class__ = torch.nn.Conv2d
    plain.load_state_dict(model.state_dict())
    x = torch.randn(2, 3, 16, 16)
    torch.testing.assert_close(model(x), plain(x), rtol=0, atol=0)
    with torch.autocast("cpu", dtype=torch.bfloat16):       # layer4 at 2x2: dense there
        torch.testing.assert_close(model(x).float(), plain(x).float(), rtol=0.05, atol=0.05)
