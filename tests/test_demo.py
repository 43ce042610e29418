"""synthcl demo at tiny settings: the whole main job on embedded elpv, then the report."""

from __future__ import annotations

import argparse

import pytest

from synthcl.commands import demo as demo_command


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny networks gain nothing from a second thread, and on a busy machine two threads
    waiting for each other stall for seconds."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow
def test_demo_runs_end_to_end_and_reports(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    demo_command.add_arguments(parser)
    out = tmp_path / "demo"
    args = parser.parse_args(["--out", str(out), "--n", "8", "--steps", "3", "--epochs", "1",
                              "--image-size", "16", "--width", "8", "--batch-size", "8",
                              "--m", "4", "--device", "cpu"])
    assert demo_command.run(args) == 0
    printed = capsys.readouterr().out
    report = out / "report.md"
    assert f"the report is {report}" in printed
    text = report.read_text()
    main = text.split("### Test accuracy")[1].split("###")[0]
    assert "| Scratch |" in main and "| Ours (RC) |" in main and "elpv N8" in main
    assert "—" not in main.split("| Scratch |")[1].split("\n")[0]        # both rows ran
    assert "Paired difference against scratch" in text
    assert (out / "demo-demo-preview-randomcrop.png").stat().st_size > 1000
    assert (out / "results.db").is_file()
    # rerunning finds everything done and only rewrites the report
    assert demo_command.run(args) == 0
    assert "0 to run" in capsys.readouterr().out
