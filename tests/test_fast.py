"""The fast inference paths against the plain forward pass, on small inputs with random weights."""

import pytest
import torch
import torch.nn.functional as F

from derain_cli.errors import UsageError
from derain_cli.fast import EagerRecurrent, OneDnnRecurrent, accelerate, onednn, precision, resolve_precision, serves_bf16
from derain_cli.fast.attention import output_mean, tap_matrix, window_sums
from derain_cli.fast.layout import Conv, fuse
from derain_cli.fast.runtime import fit_threads
from derain_cli.models import create_model

CPU = torch.device("cpu")
needs_onednn = pytest.mark.skipif(not onednn.available(), reason="this torch build has no oneDNN")
needs_onednn_bf16 = pytest.mark.skipif(not onednn.available(torch.bfloat16), reason="no oneDNN bf16 on this CPU / build")
REAL_PHOTO_GRAPH = {"stages": 4, "lstm_last": True, "residual": False}  # weights.toml's prenet-real


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny inputs: one thread, so that a busy machine's thread wake-ups do not dominate the run time."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _network(name: str, seed: int = 0, **options) -> torch.nn.Module:
    torch.manual_seed(seed)
    net = create_model(name, **options).eval()
    with torch.no_grad():  # livelier than the default init, so that errors would show
        for p in net.parameters():
            p.mul_(1.5)
    return net


def _plain(net: torch.nn.Module, y: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return net(y)[0]


def test_layout_concatenates_the_gates_in_load_order_and_leaves_the_network_alone():
    net = _network("sapnet")
    before = {k: v.clone() for k, v in net.state_dict().items()}
    layout = fuse(net)
    assert layout.gates.weight.shape == (128, 64, 3, 3)
    for k, name in enumerate(("conv_i", "conv_f", "conv_g", "conv_o")):
        gate = getattr(net, name)[0]
        assert torch.equal(layout.gates.weight[32 * k : 32 * (k + 1)], gate.weight)
        assert torch.equal(layout.gates.bias[32 * k : 32 * (k + 1)], gate.bias)
    assert [b.first.dilation for b in layout.blocks] == [1, 2, 4, 8, 16]
    after = net.state_dict()
    assert list(after) == list(before) and all(torch.equal(after[k], before[k]) for k in before)


@pytest.mark.parametrize("height,width,dilation", [(20, 30, 1), (20, 30, 4), (9, 13, 16), (40, 5, 8), (3, 3, 1)])
def test_attention_means_follow_from_the_input_window_sums(height, width, dilation):
    torch.manual_seed(height + dilation)
    x = torch.randn(1, 8, height, width).contiguous(memory_format=torch.channels_last)
    conv = Conv(torch.randn(5, 8, 3, 3), torch.randn(5), dilation)
    direct = F.conv2d(x, conv.weight, conv.bias, padding=dilation, dilation=dilation).mean((0, 2, 3))
    folded = output_mean(tap_matrix(conv.weight), conv.bias, window_sums(x, dilation), height * width)
    torch.testing.assert_close(folded, direct, atol=1e-5, rtol=1e-5)


def test_window_sums_of_a_bf16_map_are_float32_and_near_exact():
    torch.manual_seed(0)
    x = torch.rand(1, 16, 90, 120).contiguous(memory_format=torch.channels_last).bfloat16()
    sums = window_sums(x, 8)
    exact = window_sums(x.double(), 8)
    assert sums.dtype == torch.float32
    assert ((sums.double() - exact) / exact).abs().max() < 1e-3  # one bf16 rounding per row sum, not per image


GRAPHS = [("sapnet", {}), ("prenet", {}), ("prenet", REAL_PHOTO_GRAPH)]


@needs_onednn
@pytest.mark.parametrize("model,options", GRAPHS)
def test_onednn_path_matches_the_plain_forward_whatever_the_band_size(model, options):
    net = _network(model, **options)
    y = torch.rand(2, 3, 37, 50)
    plain = _plain(net, y)
    layout = fuse(net)
    with torch.inference_mode():
        outputs = [OneDnnRecurrent(layout, band_pixels)(y) for band_pixels in (10**6, 50 * 12)]
    for out in outputs:
        assert out.shape == plain.shape
        torch.testing.assert_close(out, plain, atol=2e-5, rtol=1e-4)
    torch.testing.assert_close(outputs[1], outputs[0], atol=1e-6, rtol=0)  # bands are exact


@needs_onednn_bf16
@pytest.mark.parametrize("model,options", GRAPHS)
def test_onednn_bf16_path_stays_close_to_the_plain_forward_whatever_the_band_size(model, options):
    net = _network(model, seed=2, **options)
    y = torch.rand(1, 3, 37, 50)
    plain = _plain(net, y)
    with torch.inference_mode():
        outputs = [OneDnnRecurrent(fuse(net), band_pixels, torch.bfloat16)(y) for band_pixels in (10**6, 50 * 12)]
    for out in outputs:
        assert out.dtype == torch.float32 and out.shape == plain.shape
        error = (out - plain).abs()
        assert 0 < error.max() < 0.03 and error.mean() < 3e-3  # bf16 rounding, not a wrong graph
    torch.testing.assert_close(outputs[1], outputs[0], atol=1e-6, rtol=0)  # bands stay exact in bf16


@pytest.mark.parametrize("model,options", GRAPHS)
def test_eager_path_matches_the_plain_forward(model, options):
    net = _network(model, seed=1, **options)
    y = torch.rand(2, 3, 21, 30)
    with torch.inference_mode():
        out = EagerRecurrent(fuse(net), CPU, torch.float32)(y)
        rough = EagerRecurrent(fuse(net), CPU, torch.bfloat16)(y)
    plain = _plain(net, y)
    assert out.dtype == rough.dtype == torch.float32
    torch.testing.assert_close(out, plain, atol=2e-5, rtol=1e-4)
    assert (rough - plain).abs().max() < 0.1  # bf16 runs and stays close


def test_accelerate_picks_a_path_per_architecture_and_precision():
    sapnet = _network("sapnet")
    for dtype in (torch.float32, torch.bfloat16):
        fast = accelerate(sapnet, CPU, dtype)
        assert isinstance(fast, OneDnnRecurrent if onednn.available(dtype) else EagerRecurrent)
    assert isinstance(accelerate(_network("prenet", **REAL_PHOTO_GRAPH), CPU, torch.float32), (OneDnnRecurrent, EagerRecurrent))
    assert accelerate(create_model("hcn"), CPU, torch.float32) is None
    assert serves_bf16(sapnet) == onednn.available(torch.bfloat16) and not serves_bf16(create_model("hcn"))


def test_auto_takes_bf16_on_the_cpu_only_where_the_capability_check_allows(monkeypatch):
    monkeypatch.setattr(precision.cpu_bf16, "runs_bf16_fast", lambda: False)
    assert resolve_precision("auto", CPU, bf16_served=True) == torch.float32
    monkeypatch.setattr(precision.cpu_bf16, "runs_bf16_fast", lambda: True)
    assert resolve_precision("auto", CPU, bf16_served=True) == torch.bfloat16
    assert resolve_precision("auto", CPU, bf16_served=False) == torch.float32  # e.g. HCN: no bf16 fast path
    assert resolve_precision("fp32", CPU, bf16_served=True) == torch.float32


def test_precision_resolution():
    cuda = torch.device("cuda")
    assert resolve_precision("auto", cuda) == torch.float16
    assert resolve_precision("FP32", cuda) == torch.float32
    assert resolve_precision("bf16", CPU) == torch.bfloat16
    for bad, message in (("fp16", "needs a CUDA"), ("int8", "int8"), ("fp64", "unknown precision")):
        with pytest.raises(UsageError, match=message):
            resolve_precision(bad, CPU)


def test_threads_never_exceed_the_cpus_allowed():
    import os

    assert 1 <= fit_threads() <= len(os.sched_getaffinity(0))
