"""benchmarks/harness.py: what every side-by-side comparison relies on (alternation, medians with
their spread, verdicts, failures turned into exit 1). No timing is asserted."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from harness import (  # noqa: E402
    Arm,
    BenchError,
    Rounds,
    Target,
    Timing,
    compare,
    rounds_in_turn,
    run_benchmark,
    run_command,
    scratch_directory,
)


def test_arms_alternate_so_none_always_goes_first() -> None:
    orders = [order for _, order in rounds_in_turn(["a", "b"], 4)]
    assert orders == [("a", "b"), ("b", "a"), ("a", "b"), ("b", "a")]


def test_compare_runs_each_arm_once_a_round_in_turn() -> None:
    ran: list[str] = []

    def arm(label: str, wall: float) -> Arm:
        return Arm(label, lambda: (ran.append(label), Timing(wall, wall / 2))[1])

    rounds = compare([arm("upkeep", 2.0), arm("loop", 9.0)], 3)
    assert ran == ["upkeep", "loop", "loop", "upkeep", "upkeep", "loop"]
    assert rounds["loop"].median == Timing(9.0, 4.5)


def test_rounds_give_median_and_spread_of_each_figure_on_its_own() -> None:
    rounds = Rounds((Timing(5.96, 1.0), Timing(5.65, 3.0), Timing(5.76, 2.0)))
    assert rounds.median == Timing(5.76, 2.0)
    assert rounds.fastest == Timing(5.65, 1.0) and rounds.slowest == Timing(5.96, 3.0)
    assert rounds.wall_spread() == "5.76 s (5.65–5.96)"
    assert rounds.walls() == "5.96, 5.65, 5.76"
    with pytest.raises(ValueError):
        Rounds(())


def test_targets_say_pass_or_miss() -> None:
    assert Target(">=", 8).verdict(8.0) == "PASS" and Target(">=", 8).verdict(7.9) == "MISS"
    assert Target("<=", 1.5).verdict(1.6) == "MISS" and Target("<", 0.2).verdict(0.2) == "MISS"
    assert str(Target("<=", 1.5)) == "<= 1.5"


def test_a_failed_command_is_exit_1_with_its_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def bench() -> None:
        with scratch_directory("bench-", keep_on_failure=True, parent=tmp_path):
            command = [sys.executable, "-c", "print('out'); raise SystemExit(4)"]
            run_command(command, "the arm", cwd=tmp_path)

    assert run_benchmark(bench) == 1
    err = capsys.readouterr().err
    assert "FAILED:" in err and "the arm" in err and "out" in err
    assert "kept for inspection:" in err
    assert run_benchmark(lambda: None) == 0
    with pytest.raises(BenchError, match="exited 4"):
        run_command([sys.executable, "-c", "raise SystemExit(4)"])
