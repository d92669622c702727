"""No secret in the repository: the tracked files hold no private key, no password in a URL, no
API-key-looking string, nothing of the state directory; .gitignore covers the password file."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PATTERNS: dict[str, re.Pattern[str]] = {
    "private key": re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----"),
    # scheme://user:password@ with a real password (placeholders and f-string fields are fine)
    "password in a URL": re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@'\"]+:(?!password@|\*\*\*@|\{|\$|<)[^@\s/'\"]+@"),
    "AWS access key": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    "Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    "assigned secret": re.compile(
        r"(?i)(?<![a-z0-9])(?:api[_-]?key|api[_-]?secret|secret[_-]?key|access[_-]?token|token|passphrase|password)['\"]?\s*[:=]\s*['\"](?!\{\{)[A-Za-z0-9+/=_.\-]{16,}['\"]"
    ),
}
# Public, documented values that look like secrets: KuCoin's recorded bullet-public WebSocket
# tokens (tests/fixtures/kucoin/PROVENANCE.md), which anyone obtains without an account.
ALLOWED = {
    ("assigned secret", "tests/fixtures/kucoin/futures_market_examples.json"),
    ("assigned secret", "tests/fixtures/kucoin/roq_kucoin_futures_messages.json"),
}
SECRET_PATHS = re.compile(r"(^|/)(\.zmart/|\.env($|\.)|[^/]*\.(pem|key)$|id_(rsa|ed25519|ecdsa)$|postgres/password$)")


def tracked_files() -> list[str]:
    listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True, text=True, check=False)
    if listed.returncode != 0:
        pytest.skip(f"not a git checkout ({listed.stderr.strip()}): nothing is tracked to scan")
    return [p for p in listed.stdout.split("\0") if p]


def findings(path: str, text: str) -> list[str]:
    """'<kind> at <path>:<line>' for each secret-looking string in text."""
    found = []
    for kind, pattern in PATTERNS.items():
        if (kind, path) in ALLOWED:
            continue
        found += [f"{kind} at {path}:{text.count(chr(10), 0, m.start()) + 1}" for m in pattern.finditer(text)]
    return found


def test_no_tracked_file_holds_a_secret() -> None:
    found = []
    for path in tracked_files():
        try:
            text = (ROOT / path).read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue  # binary, or deleted in the working tree
        found += findings(path, text)
    assert found == []


def test_no_state_directory_or_key_file_is_tracked() -> None:
    assert [p for p in tracked_files() if SECRET_PATHS.search(p)] == []


@pytest.mark.parametrize(
    "path", [".zmart/postgres/password", "state/postgres/password", ".zmart/postgres/data/PG_VERSION", ".env", "deploy/server.pem"]
)
def test_gitignore_covers_the_password_file_and_keys(path: str) -> None:
    tracked_files()  # skips outside a git checkout
    ignored = subprocess.run(["git", "-C", str(ROOT), "check-ignore", "--no-index", "-q", path], check=False)
    assert ignored.returncode == 0, f"{path} is not ignored by .gitignore"


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("-----BEGIN " + "OPENSSH PRIVATE KEY-----\nb3Blbn\n", "private key"),
        ("-----BEGIN " + "RSA PRIVATE KEY-----", "private key"),
        ("url = 'postgresql://zmart:" + "Xy7pQ2rT9@db.example.com:5432/zmart'", "password in a URL"),
        ("https://bot:" + "hunter22@api.example.com/v1", "password in a URL"),
        ("AKIA" + "IOSFODNN7EXAMPLE", "AWS access key"),
        ("ghp_" + "a" * 36, "GitHub token"),
        ("xoxb-" + "123456789012-abc", "Slack token"),
        ('KUCOIN_API_KEY = "' + "5f3a" * 6 + '"', "assigned secret"),
        ('"passphrase": "' + "correct-horse-battery" + '"', "assigned secret"),
    ],
)
def test_the_scanner_finds_each_kind(text: str, kind: str) -> None:
    assert [f.split(" at ")[0] for f in findings("example.txt", text)] == [kind]


@pytest.mark.parametrize(
    "text",
    [
        "postgresql://user:password@host:port/db",
        "postgresql://zmart:***@127.0.0.1:5432/zmart",
        'f"postgresql://{role}:{password}@127.0.0.1:{self.port}/{database}"',
        "password: \"{{ env_var('ZMART_DBT_PASSWORD', '') }}\"",
        "https://api-futures.kucoin.com/api/v1/contracts/active",
    ],
)
def test_placeholders_and_templates_are_not_secrets(text: str) -> None:
    assert findings("example.txt", text) == []
