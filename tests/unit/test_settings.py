"""Settings come from the environment; a bad value names the variable and the rule."""

import pytest

from orchestration.settings import SettingsError, load_settings


def test_defaults_use_the_embedded_database_and_the_simulator() -> None:
    settings = load_settings({})
    assert settings.database_url is None and settings.exchange == "sim"
    assert settings.sim_url == "http://127.0.0.1:8765" and settings.pg_port == 54329


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ZMART_EXCHANGE": "binance"}, "ZMART_EXCHANGE='binance': must be one of sim, live"),
        ({"ZMART_DATABASE_URL": "mysql://x@h/db"}, "ZMART_DATABASE_URL: expected postgresql://"),
        ({"ZMART_PG_PORT": "80"}, "ZMART_PG_PORT='80': must be a port number"),
        ({"ZMART_SIM_URL": "http://10.0.0.5:8765"}, "ZMART_SIM_URL='http://10.0.0.5:8765': the simulator must be"),
    ],
)
def test_bad_values_are_refused_with_a_clear_message(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace("?", r"\?")):
        load_settings(env)
