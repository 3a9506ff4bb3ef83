"""`broadcaster check`: every mistake reported at once, at its file and line, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from broadcaster.cli.main import main
from tests.conftest import FIXTURE

BROADCASTER = Path(sys.executable).parent / "broadcaster"


def run_check(root: Path, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run `broadcaster check --root ROOT` in-process; (exit code, stdout, stderr)."""
    result = CliRunner(env=env).invoke(main, ["check", "--root", str(root)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def edit(root: Path, rel: str, old: str, new: str) -> None:
    path = root / rel
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {rel}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_of(root: Path, rel: str, needle: str) -> int:
    """1-based line of the first line containing `needle`."""
    for number, line in enumerate((root / rel).read_text(encoding="utf-8").splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {rel}")


def test_fixture_workspace_passes_as_a_real_command() -> None:
    done = subprocess.run(
        [str(BROADCASTER), "check", "--root", str(FIXTURE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "OK" in done.stdout
    for campaign in (
        "online-submission",
        "support-contacts",
        "one-stop-covid-measures",
        "commune-support-points",
    ):
        assert f"campaign {campaign}" in done.stdout
    assert "Traceback" not in done.stderr


CAMPAIGN = "campaigns/online-submission/campaign.yaml"
VI = "campaigns/online-submission/vi.md"


def test_unknown_key_is_an_error_with_its_line_and_a_suggestion(workspace: Path) -> None:
    edit(workspace, CAMPAIGN, "priority: urgent", "priorty: urgent")
    code, _, err = run_check(workspace)
    assert code == 1
    line = line_of(workspace, CAMPAIGN, "priorty")
    assert f"{CAMPAIGN}:{line}: unknown key 'priorty'; did you mean 'priority'?" in err


def test_missing_required_key(workspace: Path) -> None:
    edit(workspace, VI, "summary:", "sumary:")
    code, _, err = run_check(workspace)
    assert code == 1
    assert f"{VI}:1: summary is required" in err or f"{VI}:2: summary is required" in err
    assert f"{VI}:3: unknown key 'sumary'; did you mean 'summary'?" in err


def test_wrong_type_and_bad_enum(workspace: Path) -> None:
    edit(workspace, CAMPAIGN, "priority: urgent", "priority: [urgent]")
    edit(workspace, CAMPAIGN, "valid_from: 2021-07-09T00:00:00+07:00", "valid_from: tomorrow")
    code, _, err = run_check(workspace)
    assert code == 1
    assert f"{CAMPAIGN}:{line_of(workspace, CAMPAIGN, 'priority')}: priority:" in err
    assert f"{CAMPAIGN}:{line_of(workspace, CAMPAIGN, 'valid_from')}: valid_from: 'tomorrow'" in err


def test_invalid_yaml_points_at_the_line(workspace: Path) -> None:
    edit(workspace, CAMPAIGN, "reference: 6176/UBND-KSTT", "reference: [6176/UBND-KSTT")
    code, _, err = run_check(workspace)
    assert code == 1
    assert f"{CAMPAIGN}:" in err
    assert "invalid YAML" in err


def test_bad_utf8_names_the_line(workspace: Path) -> None:
    path = workspace / VI
    lines = path.read_bytes().split(b"\n")
    lines[5] = lines[5] + b" \xff\xfe"
    path.write_bytes(b"\n".join(lines))
    code, _, err = run_check(workspace)
    assert code == 1
    assert f"{VI}:6: not valid UTF-8; save the file with UTF-8 encoding" in err


def test_missing_default_locale_and_missing_campaign_yaml(workspace: Path) -> None:
    (workspace / VI).unlink()
    (workspace / "campaigns/support-contacts/campaign.yaml").unlink()
    code, _, err = run_check(workspace)
    assert code == 1
    assert "campaigns/online-submission:1: campaign 'online-submission' has no vi.md" in err
    assert "campaigns/support-contacts/campaign.yaml:1: file not found" in err


def test_unknown_channel_type_lists_the_known_ones(workspace: Path) -> None:
    write(workspace, "channels/fax.yaml", "# a fax line\ntype: fax\nnumber: '0000'\n")
    code, _, err = run_check(workspace)
    assert code == 1
    assert (
        "channels/fax.yaml:2: unknown channel type 'fax'; use one of email, facebook, feed, radio, webhook, website, zalo"
        in err
    )


def test_channel_option_typo_and_bad_port(workspace: Path) -> None:
    edit(workspace, "channels/citizens.yaml", "connections: 8", "conections: 8")
    edit(workspace, "channels/citizens.yaml", "${SMTP_PORT:-25}", "${SMTP_PORT:-twenty-five}")
    code, _, err = run_check(workspace)
    assert code == 1
    line = line_of(workspace, "channels/citizens.yaml", "conections")
    assert (
        f"channels/citizens.yaml:{line}: unknown key 'conections'; did you mean 'connections'?"
        in err
    )
    port = line_of(workspace, "channels/citizens.yaml", "  port:")
    assert (
        f"channels/citizens.yaml:{port}: smtp.port must be a whole number (got 'twenty-five')"
        in err
    )


def test_environment_interpolation(workspace: Path) -> None:
    write(
        workspace,
        "channels/relay.yaml",
        "type: email\naudience: desk\nfrom: ${DESK_FROM}\nrecipients: [desk@example.gov.vn]\n"
        "smtp:\n  host: ${RELAY_HOST:-127.0.0.1}\n  password: hunter2\n",
    )
    code, _, err = run_check(workspace, env={"DESK_FROM": "", "RELAY_HOST": ""})
    assert code == 1
    assert "channels/relay.yaml:3: from must not be empty" not in err
    assert "channels/relay.yaml:7: 'password' is a secret: write ${VARIABLE}" in err
    code, _, err = run_check(workspace, env={"DESK_FROM": "Desk <desk@example.gov.vn>"})
    assert "channels/relay.yaml:3" not in err
    write(
        workspace,
        "channels/relay.yaml",
        "type: email\naudience: desk\nfrom: ${DESK_FROM_UNSET}\nrecipients: [desk@example.gov.vn]\n",
    )
    code, _, err = run_check(workspace, env={})
    assert code == 1
    assert (
        "channels/relay.yaml:3: environment variable DESK_FROM_UNSET is not set; "
        "set it, or write ${DESK_FROM_UNSET:-default}" in err
    )


def test_cross_references(workspace: Path) -> None:
    edit(workspace, CAMPAIGN, "topics: [online-services,", "topics: [online-servics,")
    edit(workspace, "schedules.yaml", "campaign: online-submission", "campaign: online-submision")
    edit(workspace, "schedules.yaml", "channels: [citizens]", "channels: [citizen]")
    edit(workspace, "schedules.yaml", 'cron: "0 8 * * mon"', 'cron: "0 8 * * moonday"')
    edit(workspace, "schedules.yaml", "digest: citizens", "digest: website")
    code, _, err = run_check(workspace)
    assert code == 1
    topic_line = line_of(workspace, CAMPAIGN, "online-servics")
    assert f"{CAMPAIGN}:{topic_line}: unknown topic 'online-servics'" in err
    sched = "schedules.yaml"
    assert (
        f"{sched}:{line_of(workspace, sched, 'online-submision')}: schedule "
        "'online-submission-launch': no campaign 'online-submision' in campaigns/" in err
    )
    assert (
        f"{sched}:{line_of(workspace, sched, '[citizen]')}: schedule 'online-submission-reminder': no channel 'citizen'"
        in err
    )
    assert (
        f"{sched}:{line_of(workspace, sched, 'moonday')}: schedule 'online-submission-reminder': invalid cron expression"
        in err
    )
    assert (
        f"{sched}:{line_of(workspace, sched, 'digest: website')}: schedule 'citizens-daily-digest': "
        "channel 'website' is not an email channel to subscribers" in err
    )


def test_timezone_and_dates(workspace: Path) -> None:
    edit(workspace, "schedules.yaml", "timezone: Asia/Ho_Chi_Minh", "timezone: Asia/Saigon_City")
    edit(
        workspace,
        CAMPAIGN,
        "valid_from: 2021-07-09T00:00:00+07:00",
        "valid_from: 2021-07-09T00:00:00+07:00\nexpires: 2021-07-01",
    )
    code, _, err = run_check(workspace)
    assert code == 1
    assert "schedules.yaml:2: unknown time zone 'Asia/Saigon_City'" in err
    assert (
        f"{CAMPAIGN}:{line_of(workspace, CAMPAIGN, 'expires')}: expires must be after valid_from"
        in err
    )


def test_schedule_timing_rules(workspace: Path) -> None:
    edit(
        workspace,
        "schedules.yaml",
        "    at: 2021-07-10T10:00:00",
        "    at: 2021-07-10T10:00:00\n    every: 1d",
    )
    edit(workspace, "schedules.yaml", 'cron: "0 18 * * fri"', "every: 5")
    code, _, err = run_check(workspace)
    assert code == 1
    assert (
        "schedule 'one-stop-covid-measures-launch': give exactly one of at:, cron: or every: (found at, every)"
        in err
    )
    line = line_of(workspace, "schedules.yaml", "every: 5")
    assert f"schedules.yaml:{line}: schedules[6].every: write a duration with a unit" in err


def test_past_at_is_a_warning_not_an_error(workspace: Path) -> None:
    code, out, err = run_check(workspace)
    assert code == 0
    line = line_of(workspace, "schedules.yaml", "at: 2021-07-10T08:00:00")
    assert (
        f"schedules.yaml:{line}: warning: schedule 'online-submission-launch': at 2021-07-10T08:00:00+07:00 is in the past"
        in err
    )
    assert "OK" in out


@pytest.mark.parametrize(
    "escape",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        "{{ data|attr('__class__') }}",
        "{{ data['__class__'] }}",
        "{{ (data|map(attribute='__class__')|list) }}",
        "{{ lipsum.__globals__ }}",
    ],
)
def test_sandbox_escape_in_a_body_is_an_error_at_its_line(workspace: Path, escape: str) -> None:
    text = (workspace / VI).read_text(encoding="utf-8")
    (workspace / VI).write_text(text + "\nMore text.\n\n" + escape + "\n", encoding="utf-8")
    target = len((text + "\nMore text.\n\n").splitlines()) + 1
    code, _, err = run_check(workspace)
    assert code == 1
    assert f"{VI}:{target}: " in err
    assert "not allowed in a campaign body" in err or "unknown name" in err


def test_body_typo_in_data_is_reported_at_its_line(workspace: Path) -> None:
    text = (workspace / VI).read_text(encoding="utf-8")
    (workspace / VI).write_text(text + "\n{{ data.national_portl }}\n", encoding="utf-8")
    target = len(text.splitlines()) + 2
    code, _, err = run_check(workspace)
    assert code == 1
    assert f"{VI}:{target}: template error: 'dict object' has no attribute 'national_portl'" in err


def test_front_matter_must_be_closed(workspace: Path) -> None:
    write(workspace, VI, "---\ntitle: Tiêu đề\nsummary: Tóm tắt\n\nNội dung\n")
    code, _, err = run_check(workspace)
    assert code == 1
    assert f"{VI}:1: the front matter is not closed; add a '---' line after it" in err


def test_every_problem_is_reported_in_one_run(workspace: Path) -> None:
    edit(workspace, CAMPAIGN, "priority: urgent", "priorty: urgent")
    edit(workspace, "campaigns/support-contacts/en.md", "title:", "titel:")
    write(workspace, "channels/fax.yaml", "type: fax\n")
    edit(workspace, "schedules.yaml", 'cron: "0 18 * * *"', 'cron: "61 18 * * *"')
    code, _, err = run_check(workspace)
    assert code == 1
    assert "unknown key 'priorty'" in err
    assert "campaigns/support-contacts/en.md:2: unknown key 'titel'" in err
    assert "channels/fax.yaml:1: unknown channel type 'fax'" in err
    assert "invalid cron expression '61 18 * * *'" in err
    assert "4 errors" in err or "errors:" in err


def test_a_broken_workspace_via_the_real_command_has_no_traceback(workspace: Path) -> None:
    (workspace / "schedules.yaml").write_bytes(b"timezone: [\x00\xff")
    (workspace / "campaigns/topics.yaml").write_text("- just\n- a list\n", encoding="utf-8")
    done = subprocess.run(
        [str(BROADCASTER), "check", "--root", str(workspace)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "schedules.yaml:1: not valid UTF-8" in done.stderr
    assert "campaigns/topics.yaml:1: this file must be a map of keys to values" in done.stderr


def test_missing_workspace_folder(tmp_path: Path) -> None:
    code, _, err = run_check(tmp_path / "nowhere")
    assert code == 1
    assert "workspace folder not found" in err


# --- files named in channel options -------------------------------------------------------


def pem(key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey, password: bytes | None = None) -> bytes:
    encryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def with_dkim(workspace: Path, key_file: str = "${DKIM_KEY_FILE}") -> int:
    """Give the citizens channel a dkim: block; returns the line of its key_file."""
    text = (workspace / "channels/citizens.yaml").read_text(encoding="utf-8")
    text += f"dkim:\n  domain: example.gov.vn\n  selector: bc2021\n  key_file: {key_file}\n"
    (workspace / "channels/citizens.yaml").write_text(text, encoding="utf-8")
    return line_of(workspace, "channels/citizens.yaml", "key_file:")


def test_dkim_key_file_must_exist_and_hold_a_private_key(workspace: Path) -> None:
    line = with_dkim(workspace)
    where = f"channels/citizens.yaml:{line}: dkim.key_file"

    code, _, err = run_check(workspace, env={"DKIM_KEY_FILE": "keys/dkim.pem"})
    assert code == 1
    assert f"{where} 'keys/dkim.pem': no such file ({workspace / 'keys/dkim.pem'}); " in err
    assert "openssl genpkey" in err
    assert "Traceback" not in err

    (workspace / "keys").mkdir()
    code, _, err = run_check(workspace, env={"DKIM_KEY_FILE": "keys"})
    assert code == 1
    assert f"{where} 'keys' is a folder; name the private key file inside it" in err

    write(workspace, "keys/dkim.pem", "-----BEGIN CERTIFICATE-----\nnot a key\n")
    code, _, err = run_check(workspace, env={"DKIM_KEY_FILE": "keys/dkim.pem"})
    assert code == 1
    assert f"{where} 'keys/dkim.pem': not an unencrypted RSA or Ed25519 private key" in err

    locked = pem(ed25519.Ed25519PrivateKey.generate(), password=b"sample-passphrase")
    (workspace / "keys/dkim.pem").write_bytes(locked)
    code, _, err = run_check(workspace, env={"DKIM_KEY_FILE": "keys/dkim.pem"})
    assert code == 1
    assert f"{where} 'keys/dkim.pem': not an unencrypted RSA or Ed25519 private key" in err

    ec_key = pem(ec.generate_private_key(ec.SECP256R1()))  # type: ignore[arg-type]
    (workspace / "keys/dkim.pem").write_bytes(ec_key)
    code, _, err = run_check(workspace, env={"DKIM_KEY_FILE": "keys/dkim.pem"})
    assert code == 1
    assert f"{where} 'keys/dkim.pem': only RSA and Ed25519 keys can sign DKIM" in err


def test_a_short_rsa_dkim_key_is_a_warning_and_good_keys_pass(workspace: Path) -> None:
    line = with_dkim(workspace, "dkim.pem")
    (workspace / "dkim.pem").write_bytes(pem(rsa.generate_private_key(65537, 1024)))
    code, out, err = run_check(workspace)
    assert code == 0, err
    assert (
        f"channels/citizens.yaml:{line}: warning: dkim.key_file 'dkim.pem' is a 1024-bit RSA "
        "key; receivers such as Gmail expect 2048 bits" in err
    )
    assert "OK" in out
    for key in (rsa.generate_private_key(65537, 2048), ed25519.Ed25519PrivateKey.generate()):
        (workspace / "dkim.pem").write_bytes(pem(key))
        code, _, err = run_check(workspace)
        assert code == 0, err
        assert "dkim" not in err


def test_a_missing_smtp_ca_file_is_an_error_at_its_line(workspace: Path) -> None:
    edit(workspace, "channels/citizens.yaml", "connections: 8", "connections: 8\n")
    edit(
        workspace,
        "channels/citizens.yaml",
        "  password: ${SMTP_PASSWORD:-}",
        "  password: ${SMTP_PASSWORD:-}\n  ca_file: relay-ca.pem",
    )
    line = line_of(workspace, "channels/citizens.yaml", "ca_file:")
    code, _, err = run_check(workspace, env={"MAIL_TRANSPORT": "smtp"})
    assert code == 1
    assert (
        f"channels/citizens.yaml:{line}: smtp.ca_file 'relay-ca.pem': no such file "
        f"({workspace / 'relay-ca.pem'})" in err
    )
    code, _, err = run_check(workspace, env={"MAIL_TRANSPORT": "maildir"})
    assert code == 0, err


def test_allowed_networks_must_be_written_as_cidrs(workspace: Path) -> None:
    """`allow_networks: [true]` or a bare number would pass ipaddress as an address; the
    webhook and WebSub options both say what to write instead, at the line."""
    edit(workspace, "channels/partners.yaml", "allow_networks: []", "allow_networks: [true]")
    code, _, err = run_check(workspace)
    assert code == 1
    line = line_of(workspace, "channels/partners.yaml", "allow_networks: [true]")
    assert f"channels/partners.yaml:{line}:" in err
    assert "True is not a network; write CIDRs like 10.20.0.0/16" in err
    assert "Traceback" not in err
