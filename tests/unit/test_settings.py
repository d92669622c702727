"""Settings come from the environment; a bad value names the variable and the rule."""

import pytest

from orchestration.settings import SettingsError, load_settings


def test_defaults_use_the_embedded_database_and_the_simulator() -> None:
    settings = load_settings({})
    assert settings.database_url is None and settings.exchange == "sim"
    assert settings.sim_url is None and settings.pg_port == 54329  # None: the platform starts a simulator
    assert (settings.sim_seed, settings.sim_contracts, settings.sim_faults.active) == (42, 700, False)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ZMART_EXCHANGE": "binance"}, "ZMART_EXCHANGE='binance': must be one of sim, live"),
        ({"ZMART_DATABASE_URL": "mysql://x@h/db"}, "ZMART_DATABASE_URL: expected postgresql://"),
        ({"ZMART_PG_PORT": "80"}, "ZMART_PG_PORT='80': must be a port number"),
        ({"ZMART_SIM_URL": "http://10.0.0.5:8765"}, "ZMART_SIM_URL='http://10.0.0.5:8765': the simulator must be"),
        ({"ZMART_SIM_CONTRACTS": "5"}, "ZMART_SIM_CONTRACTS='5': must be a whole number between 10 and 5000"),
        ({"ZMART_SIM_FAULTS": "ohlc_inverted=2"}, "ZMART_SIM_FAULTS: fault ohlc_inverted='2' in 'ohlc_inverted=2': the value must be a share"),
        ({"ZMART_SIM_FAULTS": "teleport=1"}, "ZMART_SIM_FAULTS: fault 'teleport' in 'teleport=1' is unknown"),
    ],
)
def test_bad_values_are_refused_with_a_clear_message(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace("?", r"\?")):
        load_settings(env)


def test_the_signals_drop_folder_defaults_under_the_state_dir_and_follows_its_variable(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert load_settings({"ZMART_HOME": str(tmp_path)}).signals_dir == tmp_path.resolve() / "signals" / "inbox"
    assert load_settings({"ZMART_SIGNALS_DIR": str(tmp_path / "drop")}).signals_dir == (tmp_path / "drop").resolve()
