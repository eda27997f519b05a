"""`amt serve` settings from flags and a TOML file."""

from __future__ import annotations

import pytest

from emulator.cli import main
from emulator.settings import Settings, load_config_file, parse_image_flag, with_config


def test_image_flag_splits_on_the_first_equals_sign():
    assert parse_image_flag("acct.dkr.ecr/x:1=python train.py --a=b") == (
        "acct.dkr.ecr/x:1",
        "python train.py --a=b",
    )
    with pytest.raises(ValueError, match="URI=COMMAND"):
        parse_image_flag("no-command")


def test_config_file_sets_images_and_settings(tmp_path):
    path = tmp_path / "amt.toml"
    path.write_text(
        'region = "eu-west-1"\nstop_grace_seconds = 5\n[images]\n"my/image:*" = "python t.py"\n'
    )
    settings = with_config(Settings(), load_config_file(path))
    assert settings.region == "eu-west-1"
    assert settings.stop_grace_seconds == 5.0
    assert settings.images == {"my/image:*": "python t.py"}
    path.write_text("colour = 1\n")
    with pytest.raises(ValueError, match="unknown setting"):
        with_config(settings, load_config_file(path))


def test_bad_image_flag_is_a_usage_error(capsys):
    assert main(["serve", "--image", "nothing"]) == 2
    assert "URI=COMMAND" in capsys.readouterr().err


def test_runtime_and_container_cli_from_flags_and_the_config_file(tmp_path, capsys):
    import argparse

    from emulator.cli import _serve_parser, settings_from_args

    parser = argparse.ArgumentParser()
    _serve_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["serve", "--runtime", "auto", "--container-cli", "podman -r x"])
    settings = settings_from_args(args)
    assert (settings.runtime, settings.container_cli) == ("auto", "podman -r x")
    assert settings_from_args(parser.parse_args(["serve"])).runtime == "process"
    path = tmp_path / "amt.toml"
    path.write_text('runtime = "containers"\n')
    assert main(["serve", "--config", str(path)]) == 2
    assert "runtime must be one of process, container, auto" in capsys.readouterr().err


def test_settings_are_built_once_and_auth_gets_a_private_agent_key(tmp_path):
    import argparse
    import dataclasses

    from emulator.api.app import create_app
    from emulator.cli import _serve_parser, settings_from_args
    from emulator.settings import PUBLIC_AGENT_KEY

    parser = argparse.ArgumentParser()
    _serve_parser(parser.add_subparsers(dest="command"))
    credentials = tmp_path / "credentials"
    credentials.write_text("[default]\naws_access_key_id = AKID\naws_secret_access_key = s\n")
    flags = ["serve", "--auth", "sigv4", "--credentials", str(credentials)]
    settings = settings_from_args(parser.parse_args([*flags, "--data-dir", str(tmp_path)]))
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.region = "eu-west-1"  # type: ignore[misc]
    assert settings.agent_credentials != PUBLIC_AGENT_KEY
    assert settings_from_args(parser.parse_args(["serve"])).agent_credentials == PUBLIC_AGENT_KEY
    public = dataclasses.replace(settings, agent_credentials=PUBLIC_AGENT_KEY)
    with pytest.raises(ValueError, match="private agent key"):
        create_app(public)


def test_suggestion_workers_and_remote_tuners_from_flags(capsys):
    import argparse

    from emulator.cli import _serve_parser, settings_from_args

    parser = argparse.ArgumentParser()
    _serve_parser(parser.add_subparsers(dest="command"))
    plain = settings_from_args(parser.parse_args(["serve"]))
    assert (plain.suggestion_workers, plain.remote_tuners) == (None, False)
    flags = ["serve", "--suggestion-workers", "0", "--bus", "mqtt://h:1", "--remote-tuners"]
    settings = settings_from_args(parser.parse_args(flags))
    assert (settings.suggestion_workers, settings.remote_tuners) == (0, True)
    assert main(["serve", "--suggestion-workers", "-1"]) == 2
    assert "--suggestion-workers must be 0 or more" in capsys.readouterr().err
    assert main(["serve", "--remote-tuners"]) == 2
    assert "--remote-tuners needs a broker" in capsys.readouterr().err


def test_a_tuner_computes_on_at_least_one_process(capsys):
    with pytest.raises(SystemExit) as usage:
        main(["tuner", "--bus", "mqtt://127.0.0.1:1", "--processes", "0"])
    assert usage.value.code == 2
    assert "--processes: must be 1 or more, got 0" in capsys.readouterr().err
