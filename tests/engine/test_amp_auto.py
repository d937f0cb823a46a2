"""``train.amp='auto'``: bf16 where the device computes it natively, resolved once and saved as such."""

import pytest
import torch

from toolkit.engine import dist


@pytest.mark.parametrize("native", [None, "AVX512-BF16"])
def test_auto_resolves_from_the_native_probe(monkeypatch, native):
    monkeypatch.setattr(dist, "native_bf16", lambda device: native)
    amp, note = dist.resolve_amp("auto", torch.device("cpu"))
    assert amp == ("bf16" if native else None)
    assert note.startswith("train.amp='auto' -> ") and (native or "no native bf16") in note


def test_explicit_bf16_without_native_support_says_so(monkeypatch):
    monkeypatch.setattr(dist, "native_bf16", lambda device: None)
    assert dist.resolve_amp("bf16", torch.device("cpu")) == (
        "bf16",
        "train.amp='bf16' on a cpu without native bf16: emulated, slower than fp32",
    )
    monkeypatch.setattr(dist, "native_bf16", lambda device: "AMX")
    assert dist.resolve_amp("bf16", torch.device("cpu")) == ("bf16", None)
    assert dist.resolve_amp(None, torch.device("cpu")) == (None, None)


def test_cpu_probe_matches_the_cpu_flags():
    flags = set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
    except OSError:
        pytest.skip("no /proc/cpuinfo")
    found = dist.native_bf16(torch.device("cpu"))
    if "amx_tile" in flags:  # AMX also needs the kernel's permission, which torch's probe asks for
        assert found in ("AMX", "AVX512-BF16" if "avx512_bf16" in flags else None)
    else:
        assert found == ("AVX512-BF16" if "avx512_bf16" in flags else None)


@pytest.mark.parametrize(("major", "native"), [(7, False), (8, True), (9, True)])
def test_cuda_counts_only_compute_capability_8_and_up(monkeypatch, major, native):
    # torch.cuda.is_bf16_supported() says True on a V100 or T4 too (emulated bf16, slower than fp32)
    class Props:
        pass

    props = Props()
    props.major = major
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda device: props)
    found = dist.native_bf16(torch.device("cuda", 0))
    assert (found is not None) == native
    assert dist.resolve_amp("auto", torch.device("cuda", 0))[0] == ("bf16" if native else None)


@pytest.mark.parametrize(
    ("threads", "load", "cores", "said"), [(2, 2.4, 2, True), (2, 0.9, 2, False), (1, 5.0, 2, False)]
)
def test_busy_cores_with_several_threads_are_said(monkeypatch, threads, load, cores, said):
    import os

    monkeypatch.setattr(torch, "get_num_threads", lambda: threads)
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    note = dist.thread_note(torch.device("cpu"))
    assert (note is not None) == said
    if said:
        assert f"load average {load:.1f}" in note and "OMP_NUM_THREADS=1" in note
    assert dist.thread_note(torch.device("cuda", 0)) is None
