"""Command line and SANDBOX_* environment variables."""

import pytest

from sandbox.settings import from_args


def test_options_come_from_the_environment_and_the_command_line_wins():
    environ = {"SANDBOX_API_KEY": "k", "SANDBOX_PORT": "9000", "SANDBOX_ADVANCE_AFTER": "2.5",
               "SANDBOX_FAULTS": "slow=0.5"}
    settings = from_args(["--port", "9100"], environ)
    assert (settings.api_key, settings.port, settings.advance_after) == ("k", 9100, 2.5)
    assert settings.faults == "slow=0.5" and settings.send_delay == 0.3
    assert settings.default_version == "2026-03-02" and settings.advance_after == 2.5
    assert from_args(["--api-key", "x"], {}).advance_after is None


@pytest.mark.parametrize("argv", [[], ["--api-key", "k", "--faults", "boom=1"],
                                  ["--api-key", "k", "--faults", "slow=2"]])
def test_bad_settings_are_refused(argv):
    with pytest.raises(SystemExit):
        from_args(argv, {})
