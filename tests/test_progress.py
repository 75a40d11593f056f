"""Step progress (sim.progress): shown on a terminal only, silenced by --quiet, never in logs."""

from __future__ import annotations

import io
import time

from sim import cli
from sim.progress import StepReporter, reporting, step


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_steps_on_a_terminal_show_the_running_step_and_keep_the_long_ones() -> None:
    out = _Tty()
    with reporting(stream=out) as rep:
        assert isinstance(rep, StepReporter)
        rep.min_s = 0.05
        with step("simulate"):
            pass  # short: shown while it runs, no line kept
        with step("functional pass"), step("calibrate\x1b[2J"):  # a control character is not written
            time.sleep(0.06)
    text = out.getvalue()
    assert "simulate ... " in text
    assert "functional pass > calibrate?[2J ... " in text
    assert "calibrate?[2J: 0.1 s\n" in text
    assert "functional pass: " in text and "simulate: " not in text
    assert "\x1b[2J" not in text


def test_nothing_is_written_when_not_a_terminal_or_quiet() -> None:
    for stream, enabled in ((io.StringIO(), True), (_Tty(), False)):
        with reporting(enabled=enabled, stream=stream) as rep:
            assert rep is None
            with step("simulate"):
                pass
        assert stream.getvalue() == ""


def test_step_without_reporting_is_a_no_op() -> None:
    with step("anything"):
        value = 1
    assert value == 1


def test_cli_accepts_quiet(capsys) -> None:
    assert cli.main(["run", "--hw", "tpu", "--workload", "tiny", "--no-functional", "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert "cycles" in captured.out
